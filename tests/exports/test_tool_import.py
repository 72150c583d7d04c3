"""The tool workbook import: the sample register, a reload that keeps who holds a tool, and every bad row."""
from __future__ import annotations

from datetime import date

import pytest

from exports.samples.build_sample_tools import OUT, ROWS, build
from exports.tool_import import COLUMNS, ToolImportError, add_months, format_report, load_tools
from models import find_person
from models.tool import Tool
from tests.exports.conftest import assert_committed_sample_is_fresh, assert_refused, write_sheets

TODAY = date(2026, 12, 7)


def write_book(path, rows=ROWS, *, headers=COLUMNS):
    return write_sheets(path, {"工器具": (headers, rows)})


def load(path):
    return load_tools(path, today=TODAY)


def snapshot():
    return [(t.no, t.kind, t.tested_on, t.due_on, t.keeper_id, t.holder_id) for t in Tool.select().order_by(Tool.no)]


def test_sample_loads_with_each_due_date_a_cycle_after_the_last_test(plant):
    assert format_report(load(OUT)) == f"工器具：新增 {len(ROWS)}，更新 0"
    lapsed = Tool.get(Tool.no == "GJ-0003")
    assert (lapsed.tested_on, lapsed.due_on, lapsed.keeper.name) == (date(2025, 1, 10), date(2026, 1, 10), "孙立")
    assert Tool.get(Tool.no == "JYST-0001").due_on == date(2027, 4, 8)


def test_committed_sample_matches_its_builder(tmp_path):
    assert_committed_sample_is_fresh(build, OUT, tmp_path)


def test_a_month_end_test_falls_due_on_the_last_day_of_a_shorter_month():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 2, 28), -12) == date(2026, 2, 28)


def test_a_reload_after_a_test_moves_the_due_date_and_keeps_the_holder(plant, tmp_path):
    load(OUT)
    Tool.update(holder=find_person("chenjian")).where(Tool.no == "GJ-0003").execute()
    rows = [r if r[0] != "GJ-0003" else (*r[:3], "2026-12-01", *r[4:]) for r in ROWS]
    assert format_report(load(write_book(tmp_path / "again.xlsx", rows))) == f"工器具：新增 0，更新 {len(ROWS)}"
    tool = Tool.get(Tool.no == "GJ-0003")
    assert (tool.due_on, tool.holder.name) == (date(2027, 12, 1), "陈检")


def row(no, **cells):
    found = list(next(r for r in ROWS if r[0] == no))
    for header, value in cells.items():
        found[COLUMNS.index(header)] = value
    return found


BAD_ROWS = {
    "empty kind": (row("GJ-0001", 类别=""), "类别", "不能为空"),
    "cycle not a number": (row("GJ-0001", **{"检验周期(月)": "一年"}), "检验周期(月)", "“一年”不是 1 到 120 之间的整数"),
    "cycle zero": (row("GJ-0001", **{"检验周期(月)": 0}), "检验周期(月)", "“0”不是 1 到 120 之间的整数"),
    "not a date": (row("GJ-0001", 上次检验日期="去年六月"), "上次检验日期", "“去年六月”不是日期，请写成 2026-05-01"),
    "future date": (row("GJ-0001", 上次检验日期="2027-01-01"), "上次检验日期", "2027-01-01 晚于今天，检验日期不能在将来"),
    "unknown keeper": (row("GJ-0001", 保管人="nobody"), "保管人", "“nobody”不在组织架构中"),
    "limit too long": (row("GJ-0001", **{"借用时限(小时)": 1000}), "借用时限(小时)", "“1000”不是 1 到 720 之间的整数"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_row_names_the_cell_and_changes_nothing(plant, tmp_path, case):
    load(OUT)
    bad, column, message = BAD_ROWS[case]
    rows = [bad if r[0] == bad[0] else r for r in ROWS]
    assert_refused(load, write_book(tmp_path / "bad.xlsx", rows), ToolImportError, where=("工器具", 2, column),
                   message=message, snapshot=snapshot)


def test_a_repeated_number_and_a_missing_header_are_named(plant, tmp_path):
    assert_refused(load, write_book(tmp_path / "twice.xlsx", list(ROWS) + [ROWS[0]]), ToolImportError,
                   where=("工器具", len(ROWS) + 2, "编号"), message="编号“GJ-0001”与第2行重复", snapshot=snapshot)
    assert_refused(load, write_book(tmp_path / "header.xlsx", headers=("编号", "类型") + COLUMNS[2:]),
                   ToolImportError, where=("工器具", 1, "类别"), message="缺少表头“类别”", snapshot=snapshot)
