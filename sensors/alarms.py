"""Raise gas alarms, send their cards, take acknowledgements, chase the unacknowledged.

Every function runs inside the caller's transaction or opens its own; an alarm, its audit event
and its outbox rows are written together, so a crash leaves either all of them or none.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import settings
from models import Alarm, AlarmAck, Outbox, Permit, Person, RegistryVersion, Sensor, database, transaction, utcnow
from models.db import compiled, for_update
from models.emergency import MUSTER_LEVELS
from workflow import audit, groups, machine, template as templates
from workflow.assign import org_role
from workflow.errors import NotAuthorized, NotFound
from workflow.rules import UNGRADED
from workflow.states import IN_PROGRESS
from workflow.work import suspend

from . import levels, watch

# An unacknowledged alarm climbs this chain, one role per re-send, from the area's own unit up.
CHAIN = ("基层单位负责人", "安全管理部门负责人", "主管领导")
MAX_ROUNDS = len(CHAIN) + 3   # after the chain, everyone is reminded a few more times, then the log has it
BATCH = 200
ACTIVE_LEVELS = (levels.FIRST, levels.SECOND, levels.OFF_LIMITS)


def _actor(device: str | None) -> str:
    return f"检测仪 {device}" if device else "系统"


def _unit(sensor: Sensor | None, permits: list[Permit]):
    if sensor is not None and sensor.unit_id:
        return sensor.unit
    return permits[0].unit if permits else None


def _area_people(role: str, unit, scope: str = "nearest") -> list[Person]:
    if unit is None:
        return org_role(role, "plant", None)
    # org_role reads only the permit's unit, so a detector's own unit stands in for one.
    return org_role(role, scope, SimpleNamespace(unit_id=unit.id, unit=unit))


def recipients(sensor: Sensor | None, permits: list[Permit]) -> list[Person]:
    """Everyone on the affected permits (crew, guardians, applicant, approvers) and the area's 安全员."""
    people: dict[int, Person] = {}
    for permit in permits:
        for person in ([permit.applicant] + machine.crew_and_guardians(permit)
                       + machine.approvers(permit)):
            people.setdefault(person.id, person)
    unit = _unit(sensor, permits)
    officers = _area_people("安全员", unit, "unit") if unit is not None else []
    # Silence is never an answer: with no officer in the unit, the whole plant's officers hear it.
    for person in officers or _area_people("安全员", None) + _area_people("安全管理部门负责人", None):
        people.setdefault(person.id, person)
    return [p for p in people.values() if p.active]


def _send(alarm: Alarm, people: list[Person]) -> None:
    for person in people:
        (Outbox.insert(permit_no=(alarm.permit_nos or [None])[0], person=person, kind="alarm",
                       payload={"kind": "alarm", "alarm": alarm.id, "round": alarm.rounds,
                                "text": alarm.text},
                       dedupe_key=f"alarm:{alarm.id}:{alarm.rounds}:{person.id}")
         .on_conflict_ignore().execute())


def _first_round_query():
    return (Outbox.select(Outbox.id).where(Outbox.dedupe_key.startswith("") | Outbox.dedupe_key.startswith(""))
            .order_by(Outbox.id))


def outbox_rows(alarm_ids) -> list[int]:
    """Ids of the first-round cards of these alarms (what the request that raised them enqueues)."""
    ids = []
    sql = compiled(("first-round cards",), _first_round_query) if alarm_ids else ""
    for alarm_id in alarm_ids:
        # The patterns are the keys _send and groups.post write, each followed by LIKE's wildcard.
        ids += [i for (i,) in database.execute_sql(sql, [f"alarm:{alarm_id}:1:%", f"group:alarm:{alarm_id}:%"])]
    return ids


def raise_alarm(*, sensor: Sensor | None, device: str | None, level: str, text: str,
                permits: list[Permit], reading_at: datetime, now: datetime, gas: str | None = None,
                value: float | None = None, suspended: list[str] | None = None) -> Alarm:
    """Record an alarm, stop the running permits it concerns where it must, and send its cards.

    suspended, when given, names permits the caller stops itself (inside its own engine command).
    """
    if suspended is not None:
        pass
    elif level in levels.STOPS_WORK or level == levels.OFFLINE:
        suspended = [p.no for p in permits if (level != levels.OFFLINE or _continuous(p))
                     and stop(p, f"{level}报警：{text}", now)]
    else:
        suspended = []
    people = recipients(sensor, permits)
    alarm = Alarm.create(sensor=sensor, device=device, level=level, gas=gas, value=value, text=text[:500],
                         area=sensor.area if sensor else "", permit_nos=[p.no for p in permits],
                         suspended=suspended, recipients=[p.id for p in people], reading_at=reading_at,
                         raised_at=now, resend_at=now + _resend_delay())
    audit.append(permit_no=(alarm.permit_nos or [None])[0], actor=_actor(device), action="alarm",
                 data={"alarm": alarm.id, "level": level, "gas": gas, "value": value, "text": alarm.text,
                       "permits": alarm.permit_nos, "suspended": suspended,
                       "recipients": alarm.recipients}, at=now)
    _send(alarm, people)
    groups.post(alarm.area, f"【报警·{level}】{alarm.text}", key=f"alarm:{alarm.id}",
                permit_no=(alarm.permit_nos or [None])[0])
    return alarm


def stop(permit: Permit, reason: str, now: datetime) -> bool:
    """Suspend permit if it is running; the alarm card is what tells people, so the engine stays quiet."""
    if permit.state != IN_PROGRESS:
        return False
    # The caller's copy of the permit mirrors what the engine stored.
    permit.state = suspend(permit.no, by=None, reason=reason, now=now, announce=False).state
    return True


def manual_reading(permit: Permit, *, values: dict[str, float], passed: bool, at: datetime,
                   reading_at: datetime) -> list[str]:
    """The engine's gas_reading hook: a tester's reading past an alarm set point alarms like a detector.

    Returns the alarm's text when its card already tells everyone the work stops, so the engine
    suspends without sending its own stop cards.
    """
    trips = levels.trips(values)
    if not trips:
        return []
    worst = trips[0]
    stops = permit.state == IN_PROGRESS and (worst.level in levels.STOPS_WORK or not passed)
    raise_alarm(sensor=None, device=None, level=worst.level, text=f"人工检测：{worst.text}", permits=[permit],
                reading_at=reading_at, now=at, gas=worst.gas, value=worst.value,
                suspended=[permit.no] if stops else [])
    return [f"{worst.level}报警：{worst.text}"] if stops else []


def _continuous(permit: Permit) -> bool:
    return (permit.grade or UNGRADED) in templates.get(permit.work_type).gas.continuous


def _resend_delay() -> timedelta:
    return timedelta(seconds=settings.current().alarm_resend_seconds)


def _uncleared(sensor: Sensor, which: tuple[str, ...]) -> list[Alarm]:
    # Asked for every reading that raises or clears an alarm: compiled once per number of levels.
    sql = compiled(("uncleared alarms", len(which)), lambda: Alarm.select().where(
        (Alarm.sensor == 0) & Alarm.cleared_at.is_null() & Alarm.level.in_(which)))
    return list(Alarm.raw(sql, sensor.id, *which))


def active(sensor: Sensor) -> list[Alarm]:
    """The detector's alarms that its readings have not yet cleared, worst first."""
    return sorted(_uncleared(sensor, ACTIVE_LEVELS), key=lambda a: -levels.RANK[a.level])


def clear(sensor: Sensor, now: datetime, *, offline: bool = False) -> int:
    """Mark the detector's active alarms (or its offline alarm) as cleared by a normal reading."""
    which = (levels.OFFLINE,) if offline else ACTIVE_LEVELS
    cleared = _uncleared(sensor, which)
    if not cleared:
        return 0
    Alarm.update(cleared_at=now).where(Alarm.id.in_([a.id for a in cleared])).execute()
    for alarm in cleared:
        # The chain records the end of each alarm as it records its start: an auditor reads how long it
        # lasted, and integrations hear of it.
        audit.append(permit_no=(alarm.permit_nos or [None])[0], actor=_actor(sensor.code), action="alarm_clear",
                     data={"alarm": alarm.id, "level": alarm.level, "gas": alarm.gas, "offline": offline}, at=now)
    return len(cleared)


def acknowledge(alarm_id: int, *, by: Person, channel: str, now: datetime | None = None) -> str:
    """Record by's 确认收到; the first one stops the re-sends and fixes the response time."""
    now = now or utcnow()
    with transaction():
        alarm = for_update(Alarm.select().where(Alarm.id == alarm_id)).first()
        if alarm is None:
            raise NotFound(f"没有编号为 {alarm_id} 的报警")
        if by.id not in alarm.recipients:
            raise NotAuthorized(f"{by.name}不是此报警的接收人")
        mine = AlarmAck.get_or_none((AlarmAck.alarm == alarm) & (AlarmAck.person == by))
        if mine is not None:
            return f"您已于 {_hm(mine.at)} 确认收到此报警"
        ack = AlarmAck.create(alarm=alarm, person=by, at=now, channel=channel)
        seconds = max(0, round((now - alarm.reading_at).total_seconds()))
        first = alarm.acknowledged_at is None
        if first:
            alarm.acknowledged_at, alarm.acknowledged_by, alarm.resend_at = now, by, None
            alarm.save()
        audit.append(permit_no=(alarm.permit_nos or [None])[0], actor=by.label(), action="alarm_ack",
                     data={"alarm": alarm.id, "first": first, "response_seconds": seconds,
                           "channel": channel}, at=now)
        # An emergency's card asks each person to report being safe; a gas alarm's, to confirm it was heard.
        said = "已撤离到安全区" if alarm.level in MUSTER_LEVELS else "已确认收到"
        (Outbox.insert(permit_no=(alarm.permit_nos or [None])[0], person=by, kind="alarm_ack",
                       payload={"kind": "alarm_ack", "alarm": alarm.id, "text": f"{said}（{_hm(now)}）"},
                       dedupe_key=f"alarm-ack:{alarm.id}:{by.id}")
         .on_conflict_ignore().execute())
        if alarm.level in MUSTER_LEVELS:
            from emergency.muster import tapped
            from models import Emergency
            emergency = Emergency.get_or_none(Emergency.alarm == alarm)
            if emergency is not None:
                tapped(emergency, ack.id, now=now)
    return f"{said}，用时 {seconds} 秒" if alarm.level in MUSTER_LEVELS else f"已确认收到报警，响应用时 {seconds} 秒"


def _hm(moment: datetime) -> str:
    from workflow.clock import local
    return f"{local(moment, settings.current().plant_tz):%H:%M}"


def resend(alarm_id: int, *, now: datetime) -> bool:
    """Send an unacknowledged alarm again, adding the next role of the chain; False if not due."""
    with transaction():
        alarm = for_update(Alarm.select().where(Alarm.id == alarm_id)).first()
        if alarm is None or alarm.acknowledged_at or not alarm.resend_at or alarm.resend_at > now:
            return False
        alarm.rounds += 1
        added = []
        if alarm.rounds - 2 < len(CHAIN):
            permits = list(Permit.select().where(Permit.no.in_(alarm.permit_nos or [""])))
            unit = _unit(alarm.sensor, permits)
            added = [p for p in _area_people(CHAIN[alarm.rounds - 2], unit) if p.id not in alarm.recipients]
            alarm.recipients = alarm.recipients + [p.id for p in added]
        alarm.resend_at = now + _resend_delay() if alarm.rounds < MAX_ROUNDS else None
        alarm.save()
        audit.append(permit_no=(alarm.permit_nos or [None])[0], actor="系统", action="alarm_resend",
                     data={"alarm": alarm.id, "round": alarm.rounds, "added": [p.id for p in added]}, at=now)
        _send(alarm, list(Person.select().where(Person.id.in_(alarm.recipients) & (Person.active == True))))  # noqa: E712
    return True


def resend_due(now: datetime) -> int:
    """Re-send every unacknowledged alarm whose delay has passed; return how many."""
    ids = [a for (a,) in Alarm.select(Alarm.id).where(Alarm.resend_at <= now)
           .order_by(Alarm.resend_at).limit(BATCH).tuples()]
    return sum(resend(alarm_id, now=now) for alarm_id in ids)


def offline_due(now: datetime) -> int:
    """Raise 检测仪离线 for each detector silent too long while it watches running work."""
    raised = 0
    for permit in Permit.select().where(Permit.state == IN_PROGRESS):
        for sensor in watch.sensors_of(permit):
            if sensor.offline_since is None and not watch.reporting(sensor, now) \
                    and watch.silent_for(sensor, permit.started_at, now) > watch.allowed_silence(sensor).total_seconds():
                raised += _offline(sensor.id, now)
    return raised


def _offline(sensor_id: int, now: datetime) -> int:
    with transaction():
        sensor = for_update(Sensor.select().where(Sensor.id == sensor_id)).first()
        if sensor is None or sensor.offline_since is not None:
            return 0
        sensor.offline_since = now
        sensor.save()
        RegistryVersion.bump()   # every process's map must see it offline, so its next reading clears it
        permits = [p for p in watch.watched_permits(sensor) if p.state == IN_PROGRESS]
        silent = round(watch.silent_for(sensor, min(p.started_at for p in permits), now)) if permits else 0
        raise_alarm(sensor=sensor, device=sensor.code, level=levels.OFFLINE, permits=permits,
                    reading_at=now, now=now,
                    text=f"检测仪离线：{sensor.code}（{sensor.area}）已 {silent} 秒未上报，"
                         f"应每 {sensor.interval_seconds} 秒上报")
    return 1
