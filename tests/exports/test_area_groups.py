"""The 区域 sheet's group columns: a WeCom group robot (its webhook address or key) and a DingTalk group."""
from __future__ import annotations

from exports.org_import import OrgImportError, load_org
from exports.samples.build_sample_org import (AREA_HEADERS, AREA_ROWS, CERTIFICATE_HEADERS, DEPARTMENT_HEADERS,
                                              DEPARTMENT_ROWS, PEOPLE_HEADERS, PEOPLE_ROWS, _certificate_rows)
from models import Area
from tests.exports.conftest import write_sheets

HEADERS = AREA_HEADERS + ("企业微信群机器人", "钉钉群")
HOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7c2e-4bc4-97a0-0ec2sifa5aaa"


def write_org(path, groups: dict[str, tuple[str, str]]):
    rows = [r + groups.get(r[0], ("", "")) for r in AREA_ROWS]
    return write_sheets(path, {"部门": (DEPARTMENT_HEADERS, DEPARTMENT_ROWS), "人员": (PEOPLE_HEADERS, PEOPLE_ROWS),
                               "证书": (CERTIFICATE_HEADERS, _certificate_rows()), "区域": (HEADERS, rows)})


def test_a_pasted_webhook_address_keeps_its_key_and_an_empty_cell_clears(plant, tmp_path):
    load_org(write_org(tmp_path / "a.xlsx", {"储运罐区": (HOOK, "cidTankFarm=="), "3#罐区": ("abc-1", "")}))
    unit, area = Area.get(Area.name == "储运罐区"), Area.get(Area.name == "3#罐区")
    assert (unit.wecom_group, unit.dingtalk_group) == ("693a91f6-7c2e-4bc4-97a0-0ec2sifa5aaa", "cidTankFarm==")
    assert (area.wecom_group, area.dingtalk_group) == ("abc-1", None)
    load_org(write_org(tmp_path / "b.xlsx", {}))
    assert Area.get(Area.name == "储运罐区").wecom_group is None


def test_a_malformed_group_is_refused_naming_the_cell_and_nothing_changes(plant, tmp_path):
    load_org(write_org(tmp_path / "a.xlsx", {"储运罐区": ("abc-1", "")}))
    try:
        load_org(write_org(tmp_path / "b.xlsx", {"储运罐区": ("群 机器人", "cid with spaces")}))
    except OrgImportError as exc:
        text = str(exc)
    else:
        raise AssertionError("a malformed group was accepted")
    assert "企业微信群机器人" in text and "钉钉群" in text and "openConversationId" in text
    assert Area.get(Area.name == "储运罐区").wecom_group == "abc-1"
