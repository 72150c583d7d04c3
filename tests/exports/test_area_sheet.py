"""The org workbook's 区域 sheet: the sample tree, re-imports, and each kind of bad row refused whole."""
from __future__ import annotations

import pytest

from exports.org_import import OrgImportError, load_org
from exports.samples.build_sample_org import (AREA_HEADERS, AREA_ROWS, CERTIFICATE_HEADERS, DEPARTMENT_HEADERS,
                                              DEPARTMENT_ROWS, PEOPLE_HEADERS, PEOPLE_ROWS, _certificate_rows)
from models import Area
from tests.exports.conftest import assert_refused, write_sheets


def write_org(path, areas=AREA_ROWS):
    return write_sheets(path, {"部门": (DEPARTMENT_HEADERS, DEPARTMENT_ROWS), "人员": (PEOPLE_HEADERS, PEOPLE_ROWS),
                               "证书": (CERTIFICATE_HEADERS, _certificate_rows()), "区域": (AREA_HEADERS, areas)})


def tree():
    return {a.name: (a.parent.name if a.parent else None, a.kind, a.active) for a in Area.select()}


def snapshot():
    return sorted((a.name, a.parent_id, a.kind, a.active, a.coordinator_id) for a in Area.select())


def test_the_sample_tree_loads_with_its_officers_and_coordinators(plant):
    assert tree()["11#罐区"] == ("储运罐区", "区域", True)
    assert tree()["塔T-101"] == ("塔区", "部位", True)
    unit = Area.get(Area.name == "储运罐区")
    assert (unit.safety_officer.account, unit.coordinator.account) == ("sunli", "qinchuan")
    plant_node = Area.get(Area.name == "示例化工厂")
    assert (plant_node.parent, plant_node.latitude, plant_node.longitude, plant_node.radius) == (
        None, 30.2741, 120.1551, 1500.0)


def test_a_node_left_out_of_the_sheet_is_retired_and_kept(plant, tmp_path):
    report = load_org(write_org(tmp_path / "org.xlsx", [r for r in AREA_ROWS if r[0] != "装卸站"]))
    assert report.areas == (0, len(AREA_ROWS) - 1, 1)
    assert tree()["装卸站"] == ("储运罐区", "区域", False)


def row(name, **changes):
    values = list(next(r for r in AREA_ROWS if r[0] == name))
    for header, value in changes.items():
        values[AREA_HEADERS.index(header)] = value
    return tuple(values)


def replaced(name, **changes):
    return [row(name, **changes) if r[0] == name else r for r in AREA_ROWS]


def at(name):
    """The sheet row of the sample's node called name."""
    return next(i for i, r in enumerate(AREA_ROWS) if r[0] == name) + 2


@pytest.mark.parametrize("areas, where, message", [
    (replaced("1#罐区", 上级区域="9#罐区"), at("1#罐区"), ("上级区域", "上级区域“9#罐区”不在本表中")),
    (replaced("1#罐区", 类型="车间"), at("1#罐区"), ("类型", "未知类型“车间”，可选：厂区、装置、区域、部位")),
    (AREA_ROWS + (row("1#罐区"),), len(AREA_ROWS) + 2, ("区域名称", f"区域名称“1#罐区”与第{at('1#罐区')}行重复")),
    (replaced("储运罐区", 类型="部位"), at("1#罐区"), ("类型", "区域不能位于部位“储运罐区”之下")),
    (replaced("储运罐区", 协调人="nobody"), at("储运罐区"), ("协调人", "找不到在职人员“nobody”")),
    (replaced("1#罐区", 经度=""), at("1#罐区"), ("经度", "纬度和经度须同时填写")),
    (replaced("1#罐区", 纬度="95"), at("1#罐区"), ("纬度", "95 超出范围（-90 至 90）")),
    # Kinds only go down the tree, so a cycle always breaks that order first.
    (replaced("示例化工厂", 上级区域="1#罐区"), 2, ("类型", "厂区不能位于区域“1#罐区”之下")),
], ids=["unknown-parent", "unknown-kind", "duplicate", "unit-under-site", "unknown-person", "half-a-position",
        "latitude-out-of-range", "cycle"])
def test_a_bad_row_refuses_the_whole_workbook(plant, tmp_path, areas, where, message):
    column, text = message
    assert_refused(load_org, write_org(tmp_path / "bad.xlsx", areas), OrgImportError,
                   where=("区域", where, column), message=text, snapshot=snapshot)
