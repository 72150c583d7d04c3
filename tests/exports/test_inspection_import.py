"""The inspection-plan workbook: the sample loads, a re-import updates and stops, and every bad row is refused
by sheet, row and column with nothing written."""
from __future__ import annotations

import pytest

from exports.inspection_import import COLUMNS, InspectionImportError, format_report, load_inspections
from exports.samples.build_sample_inspections import OUT, build
from models import InspectionPlan
from tests.exports.conftest import assert_committed_sample_is_fresh, assert_refused, write_sheets

GOOD = ("3#罐区每班巡检", "3#罐区", "", "每班", "heliang", "消防通道畅通")


def write_book(path, rows):
    return write_sheets(path, {"巡检计划": (COLUMNS, rows)})


def snapshot():
    return [(p.name, p.area_id, p.work_type, p.schedule, p.inspector_id, p.items, p.active)
            for p in InspectionPlan.select().order_by(InspectionPlan.id)]


def test_the_sample_loads_and_is_fresh(plant, tmp_path):
    report = load_inspections(OUT)
    assert format_report(report) == "巡检计划：新增 2，更新 0，停用 0"
    tank, hot = InspectionPlan.select().order_by(InspectionPlan.id)
    assert (tank.area.name, tank.schedule, tank.inspector.name, len(tank.items)) == ("3#罐区", "每班", "何亮", 5)
    assert (hot.area, hot.work_type, hot.schedule, hot.inspector.name) == (None, "hot_work", "每日", "孙立")
    assert_committed_sample_is_fresh(build, OUT, tmp_path)


def test_a_reimport_updates_the_plans_it_lists_and_stops_the_rest(plant, tmp_path):
    load_inspections(OUT)
    report = load_inspections(write_book(tmp_path / "p.xlsx", [GOOD, ("3#罐区每班巡检", "", "", "", "", "灭火器在位")]))
    assert (report.created, report.updated, report.stopped) == (0, 1, 1)
    tank = InspectionPlan.get(InspectionPlan.name == "3#罐区每班巡检")
    assert tank.items == ["消防通道畅通", "灭火器在位"] and tank.active
    assert not InspectionPlan.get(InspectionPlan.name == "动火作业每日检查").active


@pytest.mark.parametrize("rows, where, message", [
    ([GOOD[:1] + ("4#罐区",) + GOOD[2:]], (2, "区域"), "“4#罐区”不是区域表中的区域"),
    ([GOOD[:2] + ("动火作业",) + GOOD[3:]], (2, "作业类型"), "区域和作业类型只能填一项"),
    ([GOOD[:1] + ("", "") + GOOD[3:]], (2, "区域"), "请填写区域或作业类型"),
    ([GOOD[:1] + ("", "焊接作业") + GOOD[3:]], (2, "作业类型"), "没有这种作业类型：焊接作业"),
    ([GOOD[:3] + ("每月",) + GOOD[4:]], (2, "周期"), "未知周期“每月”，可选：每日、每周、每班"),
    ([GOOD[:4] + ("何良",) + GOOD[5:]], (2, "巡检人"), "找不到人员 何良"),
    ([GOOD[:5] + ("",)], (2, "检查项目"), "不能为空"),
    ([GOOD, GOOD], (3, "检查项目"), "“消防通道畅通”与第2行重复"),
    ([GOOD, ("3#罐区每班巡检", "", "", "每日", "", "灭火器在位")], (3, "周期"), "与第2行（计划“3#罐区每班巡检”的首行）的“每班”不一致"),
    ([GOOD[:5] + (f"第{i}项",) for i in range(21)], (2, "检查项目"), "一张巡检卡片最多 20 项"),
])
def test_a_bad_row_is_refused_by_place_and_nothing_is_written(plant, tmp_path, rows, where, message):
    load_inspections(OUT)
    assert_refused(load_inspections, write_book(tmp_path / "bad.xlsx", rows), InspectionImportError,
                   where=("巡检计划",) + where, message=message, snapshot=snapshot)
