"""气体检测记录 and 报警记录: every reading and every alarm of the period, read in keyset pages."""
from __future__ import annotations

import json
from collections.abc import Iterator

from peewee import JOIN, fn

from models import Alarm, AlarmAck, GasReading, Person
from models.emergency import MUSTER_LEVELS
from models.permit import Permit
from workflow import template as templates
from workflow.gas import others_text

from .ledger import TIME, VERDICTS
from .run import PAGE, Run, fetch
from .scope import Scope
from .sheet import Column, Sheet

READINGS = "气体检测记录"
ALARMS = "报警记录"

READING_COLUMNS = (
    Column("检测时间", TIME), Column("作业票编号", 19), Column("作业类型", 12), Column("作业地点", 22),
    Column("来源", 8), Column("检测仪编号", 11), Column("检测人", 9), Column("O2 %vol", 9),
    Column("EX %LEL", 9), Column("H2S mg/m³", 10), Column("CO mg/m³", 10), Column("其他气体", 20), Column("结论", 8),
    Column("判定说明（对照本票限值）", 60), Column("记录时间", TIME),
)
ALARM_COLUMNS = (
    Column("报警编号", 9), Column("报警时间", TIME), Column("读数时间", TIME), Column("级别", 7),
    Column("检测仪", 11), Column("区域", 16), Column("气体", 7), Column("读数", 9), Column("报警说明", 36),
    Column("涉及作业票", 22), Column("暂停的作业票", 22), Column("发送轮次", 9), Column("首先确认人", 10),
    Column("确认时间", TIME), Column("响应时间（秒）", 11), Column("确认人数", 9), Column("解除时间", TIME),
)


def _after(time_field, id_field, last: tuple | None):
    """Return the keyset condition "after (time, id)", for pages ordered by time then id."""
    if last is None:
        return id_field.is_null(False)
    return (time_field > last[0]) | ((time_field == last[0]) & (id_field > last[1]))


def count_readings(scope: Scope, run: Run) -> int:
    return _readings(scope, run).count()


def _readings(scope: Scope, run: Run):
    start, end = scope.period.bounds(run.tz)
    tester = Person.alias()
    query = (GasReading.select(GasReading.id, GasReading.taken_at, Permit.no, Permit.work_type, Permit.location,
                               GasReading.device, tester.name, GasReading.o2, GasReading.ex, GasReading.h2s,
                               GasReading.co, GasReading.others, GasReading.passed, GasReading.verdict,
                               GasReading.recorded_at)
             .join(Permit, JOIN.LEFT_OUTER, on=GasReading.permit == Permit.id)
             .switch(GasReading).join(tester, JOIN.LEFT_OUTER, on=GasReading.tester == tester.id)
             .where((GasReading.taken_at >= start) & (GasReading.taken_at < end)))
    # A detector reading nobody's permit belongs to no type, unit or state: filters leave it out.
    return query.where(scope.filters()) if scope.filtered else query


def write_readings(book, scope: Scope, run: Run) -> int:
    sheet = Sheet(book, READINGS, READING_COLUMNS, title=f"{READINGS}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), empty_note="本期间没有气体检测记录")
    at, last = run.clock, None
    while True:
        page = fetch(_readings(scope, run).where(_after(GasReading.taken_at, GasReading.id, last))
                     .order_by(GasReading.taken_at, GasReading.id).limit(PAGE), datetimes=(1, 14))
        if not page:
            return sheet.finish()
        for (_, taken_at, no, work_type, location, device, tester, o2, ex, h2s, co, others, passed, verdict,
             recorded_at) in page:
            said = json.loads(verdict).get("text") if verdict else None
            sheet.append([at(taken_at), no, templates.get(work_type).name if work_type else None, location,
                          "检测仪" if device else "人工", device, tester, o2, ex, h2s, co, others_text(others),
                          VERDICTS[None if passed is None else bool(passed)],
                          said or ("未绑定作业票，不判定" if no is None else None), at(recorded_at)])
        run.progress.advance(len(page))
        last = (page[-1][1], page[-1][0])


def _alarms(scope: Scope, run: Run):
    start, end = scope.period.bounds(run.tz)
    return (Alarm.select(Alarm, Person.name.alias("ack_name"))
            .join(Person, JOIN.LEFT_OUTER, on=Alarm.acknowledged_by == Person.id)
            # An emergency rides on an Alarm row for its cards, but it is no gas alarm: 应急记录 counts it.
            .where((Alarm.raised_at >= start) & (Alarm.raised_at < end) & Alarm.level.not_in(MUSTER_LEVELS)))


def count_alarms(scope: Scope, run: Run) -> int:
    return _alarms(scope, run).count()


def alarm_pages(scope: Scope, run: Run) -> Iterator[list[Alarm]]:
    """Yield the period's alarms (those touching a matching permit, when filtered), PAGE at a time."""
    last = None
    while True:
        page = list(_alarms(scope, run).where(_after(Alarm.raised_at, Alarm.id, last))
                    .order_by(Alarm.raised_at, Alarm.id).limit(PAGE).objects())
        if not page:
            return
        last = (page[-1].raised_at, page[-1].id)
        run.progress.advance(len(page))
        if scope.filtered:
            numbers = {no for alarm in page for no in alarm.permit_nos}
            matching = {no for (no,) in Permit.select(Permit.no).where(
                Permit.no.in_(list(numbers)) & scope.filters()).tuples()} if numbers else set()
            page = [alarm for alarm in page if matching & set(alarm.permit_nos)]
        yield page


def response_seconds(alarm: Alarm) -> int | None:
    """Return seconds from the reading to the first 确认收到, or None while unacknowledged."""
    if alarm.acknowledged_at is None:
        return None
    return max(0, int((alarm.acknowledged_at - alarm.reading_at).total_seconds()))


def write_alarms(book, scope: Scope, run: Run) -> int:
    sheet = Sheet(book, ALARMS, ALARM_COLUMNS, title=f"{ALARMS}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), empty_note="本期间没有报警")
    at = run.clock
    for page in alarm_pages(scope, run):
        acks = dict(AlarmAck.select(AlarmAck.alarm, fn.COUNT(AlarmAck.id))
                    .where(AlarmAck.alarm.in_([a.id for a in page])).group_by(AlarmAck.alarm).tuples())
        for alarm in page:
            sheet.append([alarm.id, at(alarm.raised_at), at(alarm.reading_at), alarm.level,
                          alarm.device or "人工检测", alarm.area or None, alarm.gas, alarm.value, alarm.text,
                          "、".join(alarm.permit_nos) or None, "、".join(alarm.suspended) or None, alarm.rounds,
                          getattr(alarm, "ack_name", None), at(alarm.acknowledged_at), response_seconds(alarm),
                          acks.get(alarm.id, 0), at(alarm.cleared_at)])
    return sheet.finish()
