"""The park view over HTTP beside the chat: the park office's token reads the permit being signed in WeCom or
DingTalk next to another enterprise's permits and findings, each from its own database; the enterprise's
token does not read the park view, and the park token reads no single enterprise's resources."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from openpyxl import load_workbook

from exports import period as periods
from exports.org_import import load_org
from exports.run import Run
from handlers.api import tokens
from hazards import findings
from models import find_person
from models.db import bound
from park import enterprises, report
from tests.conftest import SAMPLE_ORG
from tests.test_wecom_real_path import applied, world  # noqa: F401
from workflow import create_permit, submit

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def their_permit(code: str, start) -> str:
    """Give enterprise code its org and a height permit of its own from start, submitted through the engine."""
    with bound(enterprises.database_of(code)):
        load_org(SAMPLE_ORG)
        applicant = find_person("zhuyan")
        permit = create_permit("height", applicant=applicant, location="3#罐区", content="仪表更换",
                               attributes={"height_m": 12}, planned_start=start, planned_end=start + timedelta(hours=8),
                               crew=[find_person("jianghan")], guardians=[find_person("chuwei")],
                               now=start - timedelta(hours=3))
        submit(permit.no, by=applicant, now=start - timedelta(hours=2))
        findings.report("3#罐区 乙厂围堰破损", by=find_person("chuwei"))
        return permit.no


@BOTH
def test_the_park_office_reads_the_permit_signed_in_chat_beside_another_enterprises(world, tmp_path,
                                                                                   enterprise_url):
    phone, drain, _ = world
    permit, card = applied(phone, drain)
    assert phone.click("zhengji", card)["status"] == 200
    drain()
    enterprises.add("yi", "乙化工", enterprise_url("yi"))
    theirs = their_permit("yi", permit.planned_start)
    park = {"Authorization": f"Bearer {tokens.create('园区安全办', 'park')}"}
    yi = {"Authorization": f"Bearer {tokens.create('乙厂看板', 'read', enterprise='yi')}"}
    for _ in range(2):   # the server's threads are reused: a binding left behind would show on the second round
        answer = requests.get(f"{phone.app}/api/v1/park/overview", headers=park, timeout=10)
        assert answer.status_code == 200, answer.text
        sites = {site["code"]: site for site in answer.json()["enterprises"]}
        assert list(sites) == [None, "yi"]
        assert [(p["no"], p["state"]) for p in sites[None]["permits"]] == [(permit.no, "in_approval")]
        assert [p["no"] for p in sites["yi"]["permits"]] == [theirs]
        assert (sites[None]["open_findings"], sites["yi"]["open_findings"]) == (0, 1)
        # No token but the park office's reads the view, and the park office reads no enterprise's resources.
        assert requests.get(f"{phone.app}/api/v1/park/overview", headers=yi, timeout=10).status_code == 403
        assert requests.get(f"{phone.app}/api/v1/permits/{permit.no}", headers=park, timeout=10).status_code == 403
        mine = requests.get(f"{phone.app}/api/v1/permits", headers=yi, timeout=10).json()["items"]
        assert [p["no"] for p in mine] == [theirs]
    # The month's ranking counts the permit applied in chat for the deployment, and yi's for yi.
    run = Run.current()
    month = periods.month(f"{run.clock(permit.planned_start):%Y-%m}")
    built = report.build(month, tmp_path / "rank.xlsx", run)
    rows = list(load_workbook(built.path, read_only=True)[report.RANKING].iter_rows(values_only=True))
    counted = {row[1]: row[-3] for row in rows if len(row) > 3 and row[1] in (report.HOME, "yi")}
    assert counted == {report.HOME: 1, "yi": 1}
