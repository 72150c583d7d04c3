"""The pre-shift meeting's card (班前会): the day's permits, hazards and measures, and 确认参会."""
from __future__ import annotations

import settings
from meetings import links, preshift
from models.meeting import Meeting, MeetingAttendee
from workflow.clock import local

from . import actions
from .card import PRIMARY, Button, Card, Field, Link


def task_id(meeting_id: int, person_id: int, serial: int | None = None) -> str:
    return f"meeting-{meeting_id}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _fields(meeting: Meeting) -> tuple[Field, ...]:
    permits = preshift.permits_of(meeting)
    return (Field("日期", f"{meeting.day:%Y-%m-%d}"), Field("负责人", meeting.leader.name),
            Field("地点", meeting.place), Field("作业票", "、".join(p.no for p in permits)),
            Field("应到", f"{len(preshift.attendees(meeting))} 人"))


def _summary(meeting: Meeting) -> str:
    from exports import knowledge
    return "\n".join(preshift.agenda(meeting, knowledge_for=lambda code: knowledge.for_work_type(code, limit=3)))


def ask_card(meeting_id: int, *, person_id: int, serial: int | None = None) -> Card:
    """Return the card asking one attendee to confirm, or what it became once they did."""
    meeting = Meeting.get_by_id(meeting_id)
    tid = task_id(meeting_id, person_id, serial)
    row = MeetingAttendee.get_or_none((MeetingAttendee.meeting == meeting) & (MeetingAttendee.person == person_id))
    if row is not None and row.confirmed_at is not None:
        return settled_card(meeting_id, person_id=person_id, task_id=tid)
    base = settings.current().public_base_url
    return Card(kind="sign", task_id=tid, title=f"班前会：{meeting.leader.name} 班组", subtitle=f"{meeting.day:%m-%d}",
                fields=_fields(meeting), buttons=(Button("确认参会", actions.meeting_key(meeting.id), PRIMARY),),
                url=links.url(meeting, base_url=base),
                notice="请到班前会地点扫描班前会二维码签到，听完交底后点击“确认参会”。\n" + _summary(meeting))


def settled_card(meeting_id: int, *, person_id: int, task_id: str) -> Card:
    """Return what an attendee's card becomes once they confirmed."""
    meeting = Meeting.get_by_id(meeting_id)
    row = MeetingAttendee.get((MeetingAttendee.meeting == meeting) & (MeetingAttendee.person == person_id))
    at = local(row.confirmed_at, settings.current().plant_tz)
    return Card(kind="outcome", task_id=task_id, title=f"已参加班前会：{meeting.leader.name} 班组",
                subtitle=f"{meeting.day:%m-%d}", fields=_fields(meeting), buttons=(),
                url=links.url(meeting, base_url=settings.current().public_base_url),
                links=(Link("班前会内容", links.url(meeting, base_url=settings.current().public_base_url)),),
                notice=f"{row.person.name}（{row.roles}）已于 {at:%H:%M} 签到并确认参会")
