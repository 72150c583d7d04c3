"""Hold the day's pre-shift meeting, check attendees in at its place, take their confirmations, and the gate.

A crew leader is a work leader (the first 作业人) of a permit of the day. Holding the meeting lists
the leader's permits whose crews may work today, and everyone named on them (作业人, 监护人) is
expected. Each attendee scans the meeting's QR code at the place it is held, then confirms on the
card; a confirmation before the scan, a second one, or one from someone not on the list is refused
and changes nothing. Where the plant sets MEETING_BEFORE_START, a permit starts only once the
meeting of that day covers it and everyone named on it has confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

import settings
from models import Outbox, Person, transaction
from models.db import for_update
from models.meeting import Meeting, MeetingAttendee, MeetingPermit
from models.permit import Permit
from workflow import audit, machine, onsite, template as templates
from workflow.clock import local
from workflow.errors import InvalidTransition, NotAuthorized, NotFound
from workflow.states import IN_APPROVAL, IN_PROGRESS, ISSUED, SUSPENDED

# The permits a meeting goes through: those whose crews may be at work today.
OPEN = (IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED)
ROLE_ORDER = (onsite.WORK_LEADER, onsite.CREW, onsite.GUARDIAN)


def today(at: datetime) -> date:
    """Return the plant-local day of the stored UTC moment at."""
    return local(at, settings.current().plant_tz).date()


def _utc(day: date, at: time) -> datetime:
    moment = datetime.combine(day, at, tzinfo=settings.current().plant_tz)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def when(at: datetime) -> str:
    return f"{local(at, settings.current().plant_tz):%H:%M}"


def permits_led(leader: Person, day: date) -> list[Permit]:
    """Return the open permits whose work leader is leader and whose window touches day."""
    start, end = _utc(day, time.min), _utc(day, time.max)
    candidates = (Permit.select().where(Permit.state.in_(OPEN) & (Permit.planned_start <= end)
                                        & (Permit.planned_end > start)).order_by(Permit.planned_start, Permit.id))
    return [p for p in candidates if getattr(onsite.work_leader(p), "id", None) == leader.id]


def crew_of(permits: list[Permit]) -> dict[int, tuple[Person, list[str]]]:
    """Return everyone named on the permits with their parts, the leader first."""
    found: dict[int, tuple[Person, list[str]]] = {}
    for permit in permits:
        crew = machine.members(permit, onsite.CREW)
        for person, role in ([(crew[0], onsite.WORK_LEADER)] if crew else []) + [
                (p, onsite.CREW) for p in crew[1:]] + [(p, onsite.GUARDIAN) for p in
                                                      machine.members(permit, onsite.GUARDIAN)]:
            roles = found.setdefault(person.id, (person, []))[1]
            if role not in roles:
                roles.append(role)
    return found


def _card(meeting: Meeting, person_id: int, side: str) -> None:
    (Outbox.insert(permit_no=None, person=person_id, kind="meeting",
                   payload={"kind": "meeting", "meeting": meeting.id, "side": side},
                   dedupe_key=f"meeting:{meeting.id}:{person_id}:{side}:{meeting.held_at.isoformat()}"[:191])
     .on_conflict_ignore().execute())


@dataclass(frozen=True)
class Held:
    meeting: Meeting
    added: list[str]      # permits this holding added (all of them the first time)


def hold(*, by: Person, now: datetime) -> Held:
    """Hold (or hold again, adding the day's new permits and people) by's meeting and card everyone."""
    day = today(now)
    permits = permits_led(by, day)
    if not permits:
        raise NotAuthorized("您今天没有作为作业负责人（作业人中第一位）的作业票，无需召开班前会")
    with transaction():
        meeting = Meeting.get_or_none((Meeting.leader == by) & (Meeting.day == day))
        if meeting is None:
            meeting = Meeting.create(leader=by, day=day, place=permits[0].location[:200], held_at=now)
        else:
            meeting.held_at = now   # a new round of cards: the dedupe keys carry the moment
            meeting.save()
        linked = {m.permit_id for m in MeetingPermit.select().where(MeetingPermit.meeting == meeting)}
        added = [p for p in permits if p.id not in linked]
        for permit in added:
            MeetingPermit.create(meeting=meeting, permit=permit)
        attending = {a.person_id: a for a in MeetingAttendee.select().where(MeetingAttendee.meeting == meeting)}
        every = permits_of(meeting)
        for person_id, (person, roles) in crew_of(every).items():
            said = "、".join(r for r in ROLE_ORDER if r in roles)
            if person_id not in attending:
                MeetingAttendee.create(meeting=meeting, person=person, roles=said)
            elif attending[person_id].roles != said:
                MeetingAttendee.update(roles=said).where(MeetingAttendee.id == attending[person_id].id).execute()
        for attendee in attendees(meeting):
            if attendee.confirmed_at is None:
                _card(meeting, attendee.person_id, "ask")
        audit.append(permit_no=None, actor=by.label(), action="meeting_held",
                     data={"meeting": meeting.id, "day": day.isoformat(), "place": meeting.place,
                           "permits": [p.no for p in every], "added": [p.no for p in added],
                           "crew": [a.person.label() for a in attendees(meeting)]}, at=now)
    return Held(meeting, [p.no for p in added])


def permits_of(meeting: Meeting) -> list[Permit]:
    return list(Permit.select().join(MeetingPermit).where(MeetingPermit.meeting == meeting)
                .order_by(Permit.planned_start, Permit.id))


def attendees(meeting: Meeting) -> list[MeetingAttendee]:
    return list(MeetingAttendee.select(MeetingAttendee, Person).join(Person)
                .where(MeetingAttendee.meeting == meeting).order_by(MeetingAttendee.id))


def _locked(meeting_id: int, person: Person) -> tuple[Meeting, MeetingAttendee | None]:
    meeting = Meeting.get_or_none(Meeting.id == meeting_id)
    if meeting is None:
        raise NotFound("没有这次班前会")
    row = for_update(MeetingAttendee.select().where((MeetingAttendee.meeting == meeting)
                                                    & (MeetingAttendee.person == person))).first()
    return meeting, row


def _not_listed(meeting: Meeting, person: Person) -> NotAuthorized:
    return NotAuthorized(f"{person.name} 不在 {meeting.leader.name} 班组 {meeting.day:%m-%d} 班前会的人员名单中"
                         "（名单为该班组当天作业票上的作业人和监护人）")


def check_in(meeting_id: int, *, by: Person, platform: str, now: datetime) -> MeetingAttendee:
    """Record by's scan of the meeting's code at its place; someone not on the list is refused."""
    with transaction():
        meeting, row = _locked(meeting_id, by)
        if row is None:
            raise _not_listed(meeting, by)
        if today(now) != meeting.day:
            raise InvalidTransition(f"这是 {meeting.day:%Y-%m-%d} 的班前会二维码，已过期")
        if row.checked_in_at is None:
            row.checked_in_at = now
            row.save()
            audit.append(permit_no=None, actor=by.label(), action="meeting_check_in",
                         data={"meeting": meeting.id, "day": meeting.day.isoformat(), "platform": platform},
                         at=now)
        return row


def confirm(meeting_id: int, *, by: Person, now: datetime) -> MeetingAttendee:
    """Record by's confirmation on the card; only after their scan at the meeting's place, and once."""
    with transaction():
        meeting, row = _locked(meeting_id, by)
        if row is None:
            raise _not_listed(meeting, by)
        if row.confirmed_at is not None:
            raise InvalidTransition(f"您已于 {when(row.confirmed_at)} 确认参加本次班前会，无需重复确认")
        if today(now) != meeting.day:
            raise InvalidTransition(f"这是 {meeting.day:%Y-%m-%d} 的班前会，已过期；请作业负责人重新召开")
        if row.checked_in_at is None:
            raise InvalidTransition(f"请先到班前会地点（{meeting.place}）扫描班前会二维码签到，再点击确认参会")
        row.confirmed_at = now
        row.save()
        audit.append(permit_no=None, actor=by.label(), action="meeting_confirm",
                     data={"meeting": meeting.id, "day": meeting.day.isoformat(), "roles": row.roles,
                           "permits": [p.no for p in permits_of(meeting)]}, at=now)
        _card(meeting, by.id, "settle-ask")
        return row


def problems(permit: Permit, *, at: datetime) -> list[str]:
    """Name what the permit's start waits for: its crew's meeting of the day, and who has not confirmed."""
    if not settings.current().meeting_before_start:
        return []
    day = today(at)
    leader = onsite.work_leader(permit)
    meeting = (Meeting.select().join(MeetingPermit)
               .where((MeetingPermit.permit == permit) & (Meeting.day == day)).first())
    if meeting is None:
        who = f"作业负责人 {leader.name} " if leader else "作业负责人"
        return [f"开工前须召开当天班前会：请{who}发送“班前会”召开，班组成员扫码签到并在卡片上确认"]
    confirmed = {a.person_id for a in MeetingAttendee.select().where(
        (MeetingAttendee.meeting == meeting) & MeetingAttendee.confirmed_at.is_null(False))}
    named = crew_of([permit])
    missing = [f"{'、'.join(roles)} {person.name}" for pid, (person, roles) in named.items() if pid not in confirmed]
    if missing:
        return [f"班前会尚未确认参会：{'、'.join(missing)}（须扫描班前会二维码签到后在卡片上确认）"]
    return []


def agenda(meeting: Meeting, *, knowledge_for) -> list[str]:
    """Return the meeting's content as lines: each permit, its hazards and measures, and the knowledge entries.

    knowledge_for(work_type) returns the knowledge base's entries of a work type (titles are shown).
    """
    lines, types = [], []
    for permit in permits_of(meeting):
        t = templates.get(permit.work_type)
        grade = f" {permit.grade}" if permit.grade else ""
        lines.append(f"{permit.no} {t.name}{grade} · {permit.location} · {permit.content}")
        hazards = [f"介质 {permit.medium}"] if permit.medium else []
        checklist = next((s.checklist for s in t.steps if s.kind == "checklist"), ())
        lines.append(f"  危害与措施：{'；'.join(hazards + list(checklist[:6]))}" if hazards or checklist
                     else "  危害与措施：按作业票执行")
        extra = (permit.attributes or {}).get("measures")
        if extra:
            lines.append(f"  补充措施：{extra if isinstance(extra, str) else '；'.join(extra)}")
        if permit.work_type not in types:
            types.append(permit.work_type)
    for code in types:
        entries = knowledge_for(code)
        if entries:
            lines.append(f"{templates.get(code).name}安全知识：" + "；".join(f"【{e.kind}】{e.title}" for e in entries))
    return lines
