"""应急记录: one row per emergency or drill raised in the period, with its muster and its handling.

Emergencies ride on an Alarm row for their cards and taps, but they are not gas alarms: the 报警记录
sheet and the alarm figures leave them out, and this sheet is where they are counted.
"""
from __future__ import annotations

from models import AlarmAck
from models.emergency import Emergency

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

EMERGENCIES = "应急记录"
TIME = 19
COLUMNS = (
    Column("编号", 6), Column("类别", 6), Column("区域", 14), Column("发起人", 9), Column("发起时间", TIME),
    Column("情况说明", 40), Column("涉及作业票", 40), Column("暂停作业票", 40), Column("应撤离人数", 10),
    Column("已撤离人数", 10), Column("解除人", 9), Column("解除时间", TIME), Column("处置情况", 40),
)


def write(book, scope: Scope, run: Run) -> int:
    """Write the emergencies and drills raised in the scope's period."""
    from emergency.stop import muster_list
    from models.permit import Permit
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, EMERGENCIES, COLUMNS, title=f"{EMERGENCIES}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), freeze_columns=1,
                  empty_note="本期间没有应急或演练")
    for e in (Emergency.select().where((Emergency.raised_at >= start) & (Emergency.raised_at < end))
              .order_by(Emergency.raised_at, Emergency.id)):
        permits = list(Permit.select().where(Permit.no.in_(e.permit_nos or [""])))
        expected = {p.id for p in muster_list(permits)}
        safe = {a for (a,) in AlarmAck.select(AlarmAck.person).where(AlarmAck.alarm == e.alarm_id).tuples()}
        sheet.append([e.id, "演练" if e.drill else "应急", e.area.name, e.raised_by.name if e.raised_by_id else None,
                      run.clock(e.raised_at), e.text, "、".join(e.permit_nos) or None,
                      "、".join(e.suspended) or None, len(expected), len(expected & safe),
                      e.closed_by.name if e.closed_by_id else None, run.clock(e.closed_at), e.handling or None])
    return sheet.finish()
