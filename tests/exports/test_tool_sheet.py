"""工器具台账 and 领用记录 in the ledger: the register as it stands at export, the loans that overlap the period."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from openpyxl import load_workbook

from exports.build import build_ledger
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope
from exports.tool_sheet import LOAN_COLUMNS, LOANS, REGISTER, REGISTER_COLUMNS
from models import find_person
from tests.conftest import MORNING
from tests.tools.test_loans import DETECTOR, HARNESS, tool
from tools import loans


def rows(sheet, columns) -> list[dict]:
    return [dict(zip([c.header for c in columns], r)) for r in sheet.iter_rows(min_row=4, values_only=True)]


def test_the_ledger_lists_every_tool_with_its_test_and_holder_and_the_periods_loans(plant, tmp_path):
    tool("GJ-0001", DETECTOR, date(2027, 6, 1))
    tool("GJ-0003", DETECTOR, date(2026, 11, 1))                # lapsed before the export
    tool("AQD-0001", HARNESS, date(2027, 6, 1), keeper="zhuyan")
    chenjian, chuwei = find_person("chenjian"), find_person("chuwei")
    october = datetime(2026, 10, 10, 2, 0)
    loans.check_out("GJ-0001", by=chenjian, now=october)      # out and back in October: not this month's
    loans.give_back("GJ-0001", by=chenjian, now=october + timedelta(hours=3))
    loans.check_out("GJ-0001", by=chenjian, now=MORNING - timedelta(hours=2))
    loans.give_back("GJ-0001", by=find_person("sunli"), now=MORNING)   # the keeper takes it back
    loans.check_out("AQD-0001", by=chuwei, now=MORNING + timedelta(hours=1))   # still out

    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current(now=MORNING))
    book = load_workbook(built.path)
    register, lent = book[REGISTER], book[LOANS]
    assert register["A1"].value == "工器具台账（导出时状态）" and lent["A1"].value == "领用记录（2026-11）"
    assert [c.value for c in register[3]] == [c.header for c in REGISTER_COLUMNS]
    assert [c.value for c in lent[3]] == [c.header for c in LOAN_COLUMNS]
    assert built.rows[REGISTER] == 3 and built.rows[LOANS] == 2
    listed = rows(register, REGISTER_COLUMNS)
    assert [(r["编号"], r["检验状态"], r["保管人"], r["当前领用人"]) for r in listed] == [
        ("AQD-0001", "有效", "朱岩", "褚卫"), ("GJ-0001", "有效", "孙立", None), ("GJ-0003", "已过期", "孙立", None)]
    harness = listed[0]
    # Dates stay dates for Excel, and the stored 01:00 UTC is 09:00 at the plant.
    assert harness["检验有效期至"] == datetime(2027, 6, 1) and harness["领用时间"] == datetime(2026, 11, 24, 9, 0)
    assert (harness["类别"], harness["检验周期(月)"], harness["借用时限(小时)"]) == (HARNESS, 12, 8)
    assert rows(lent, LOAN_COLUMNS) == [
        {"编号": "GJ-0001", "类别": DETECTOR, "领用人": "陈检", "部门": chenjian.department.name,
         "领用时间": datetime(2026, 11, 24, 6, 0), "归还时间": datetime(2026, 11, 24, 8, 0), "归还经办人": "孙立",
         "借用时长(小时)": 2, "催还次数": 0},
        {"编号": "AQD-0001", "类别": HARNESS, "领用人": "褚卫", "部门": chuwei.department.name,
         "领用时间": datetime(2026, 11, 24, 9, 0), "归还时间": None, "归还经办人": None, "借用时长(小时)": None,
         "催还次数": 0}]


def test_without_a_register_both_sheets_say_there_is_nothing(plant, tmp_path):
    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current(now=MORNING))
    book = load_workbook(built.path)
    assert built.rows[REGISTER] == built.rows[LOANS] == 0
    assert book[REGISTER]["A4"].value == "无数据" and book[LOANS]["B4"].value == "本期间没有工器具领用"
