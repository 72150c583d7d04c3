"""隐患排查治理台账: one row per finding found in the period, in the fields regulators' platforms upload."""
from __future__ import annotations

from models import Department, Person
from models.hazard import STATE_NAMES, Finding

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

FINDINGS = "隐患排查治理台账"
TIME = 19
# The first ten are the usual 隐患 upload fields, in their order, so an admin can map them one to one.
FINDING_COLUMNS = (
    Column("编号", 19), Column("隐患名称", 40), Column("等级", 6), Column("来源", 8), Column("发现时间", TIME),
    Column("整改责任人", 10), Column("整改期限", TIME), Column("整改完成时间", TIME), Column("验收人", 9),
    Column("状态", 8), Column("地点", 14), Column("类别", 10), Column("发现人", 9), Column("责任单位", 14),
    Column("复查不通过次数", 8), Column("是否超期", 8),
)


def _name(person: Person | None) -> str | None:
    return person.name if person is not None else None


def _overdue(f: Finding, run: Run) -> str:
    if f.deadline is None:
        return ""
    done = f.rectified_at if f.state in ("rectified", "closed") else run.now
    return "是" if done > f.deadline else "否"


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the sheet for the findings found in the scope's period (of the scope's unit, if it names one)."""
    start, end = scope.period.bounds(run.tz)
    heading = run.heading(scope.period.label, scope.describe())
    sheet = Sheet(book, FINDINGS, FINDING_COLUMNS, title=f"{FINDINGS}（{scope.period.label}）", heading=heading,
                  freeze_columns=1, empty_note="本期间没有登记隐患")
    where = (Finding.found_at >= start) & (Finding.found_at < end)
    if scope.unit:
        where &= Finding.unit.in_(Department.select(Department.id).where(Department.code == scope.unit))
    for f in Finding.select().where(where).order_by(Finding.id):
        sheet.append([f.no, f.description, f.grade, f.source, run.clock(f.found_at), _name(f.responsible),
                      run.clock(f.deadline), run.clock(f.rectified_at), _name(f.checked_by) if f.closed_at else None,
                      STATE_NAMES[f.state], f.place, f.category, _name(f.found_by),
                      f.unit.name if f.unit else None, f.rejections, _overdue(f, run)])
    return {FINDINGS: sheet.finish()}
