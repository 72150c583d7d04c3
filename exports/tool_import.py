"""Load the tool workbook (安全工器具) into the tool register: all of it in one transaction, or none of it."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import settings
from models.db import transaction, utcnow
from models.org import find_person
from models.tool import Tool

from workflow.clock import local

from .workbook import RowChecker, RowError, SheetRow, WorkbookError, read_sheets

TOOLS = "工器具"
NO, KIND, CYCLE, TESTED, KEEPER, LIMIT = "编号", "类别", "检验周期(月)", "上次检验日期", "保管人", "借用时限(小时)"
REQUIRED = (NO, KIND, CYCLE, TESTED, KEEPER)
COLUMNS = REQUIRED + (LIMIT,)
LIMITS = {NO: 32, KIND: 32}
CYCLE_RANGE = range(1, 121)
LIMIT_RANGE = range(1, 721)
DEFAULT_LIMIT_HOURS = 12


class ToolImportError(WorkbookError):
    """The tool workbook has errors; nothing of it was written."""

    title = "工器具表"


@dataclass(frozen=True)
class ToolImportReport:
    created: int
    updated: int


def format_report(report: ToolImportReport) -> str:
    """Return the report as one Chinese line."""
    return f"工器具：新增 {report.created}，更新 {report.updated}"


def add_months(day: date, months: int) -> date:
    """Return day moved on by months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def load_tools(path: str | Path, *, today: date | None = None) -> ToolImportReport:
    """Register or update the tools in the workbook at path; raise ToolImportError if any row is wrong."""
    rows, errors = read_sheets(path, {TOOLS: COLUMNS}, optional=(LIMIT,))
    if errors:
        raise ToolImportError(errors)
    with transaction():
        checker = _Checker(today or local(utcnow(), settings.current().plant_tz).date())
        checked = checker.check(rows[TOOLS])
        if checker.errors:
            raise ToolImportError(checker.errors)
        known = {t.no: t for t in Tool.select().where(Tool.no.in_([no for no, _ in checked]))}
        created = updated = 0
        for no, fields in checked:
            fields["due_on"] = add_months(fields["tested_on"], fields["cycle_months"])
            tool = known.get(no)
            if tool is None:
                Tool.create(no=no, **fields)
                created += 1
            else:
                # Who holds it stays: a reload after a test must not pretend the tool came back.
                Tool.update(**fields, updated_at=utcnow()).where(Tool.id == tool.id).execute()
                updated += 1
        return ToolImportReport(created, updated)


class _Checker(RowChecker):
    """Check the tool rows against each other and against the org in the database."""

    def __init__(self, today: date):
        super().__init__()
        self.today = today

    def check(self, rows: list[SheetRow]) -> list[tuple[str, dict]]:
        if not rows:
            self.errors.append(RowError(TOOLS, None, None, "没有任何工器具"))
        first_row: dict[str, int] = {}
        result = []
        for row in rows:
            self.check_basics(row, LIMITS, REQUIRED, NO, first_row)
            no = row[NO]
            fields = {"kind": row[KIND], "cycle_months": self.whole(row, CYCLE, CYCLE_RANGE),
                      "tested_on": self.tested(row), "keeper": self.keeper(row),
                      "limit_hours": (self.whole(row, LIMIT, LIMIT_RANGE) if row.cells.get(LIMIT)
                                      else DEFAULT_LIMIT_HOURS)}
            result.append((no, fields))
        return result

    def whole(self, row: SheetRow, column: str, allowed: range) -> int | None:
        text = row[column]
        if text and not (text.isdecimal() and int(text) in allowed):
            self.error(row, column, f"“{text}”不是 {allowed.start} 到 {allowed.stop - 1} 之间的整数")
        return int(text) if text.isdecimal() else None

    def tested(self, row: SheetRow) -> date | None:
        text = row[TESTED]
        if not text:
            return None
        try:
            # A date cell reads back as 2026-05-01T00:00:00, a text cell as typed.
            day = date.fromisoformat(text[:10].replace("/", "-"))
        except ValueError:
            self.error(row, TESTED, f"“{text}”不是日期，请写成 2026-05-01")
            return None
        if day > self.today:
            self.error(row, TESTED, f"{day:%Y-%m-%d} 晚于今天，检验日期不能在将来")
        return day

    def keeper(self, row: SheetRow):
        text = row[KEEPER]
        if not text:
            return None
        person = find_person(text)
        if person is None:
            self.error(row, KEEPER, f"“{text}”不在组织架构中（填企业微信账号、钉钉账号或手机号）")
        elif not person.active:
            self.error(row, KEEPER, f"{person.name}（{text}）已停用，不能做保管人")
        return person
