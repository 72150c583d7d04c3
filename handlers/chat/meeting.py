"""`班前会`: a crew leader holds the day's pre-shift meeting; the card's 确认参会 click confirms attendance."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from exports import knowledge
from meetings import links, preshift
from models import Person, utcnow
from workflow import WorkflowError

from .replies import Replier

def _hold(_head, _lines, person: Person, reply, _event: Event) -> None:
    held = preshift.hold(by=person, now=utcnow())
    meeting = held.meeting
    crew = preshift.attendees(meeting)
    lines = preshift.agenda(meeting, knowledge_for=lambda code: knowledge.for_work_type(code, limit=3))
    again = "（再次召开：已补充新增作业票和人员）" if held.added and len(held.added) < len(preshift.permits_of(meeting)) \
        else ("（再次召开）" if not held.added else "")
    reply(f"班前会已召开{again}：{meeting.day:%Y-%m-%d} {meeting.place}\n" + "\n".join(lines)
          + f"\n应到 {len(crew)} 人：{'、'.join(f'{a.person.name}（{a.roles}）' for a in crew)}"
          + f"\n班前会二维码（请在会场出示或打印张贴，参会人员扫码签到）：{links.url(meeting, 'place', extra='/qr.png')}")


COMMANDS = {"班前会": _hold}


def handle_click(event: Event, person: Person) -> str | None:
    """Confirm attendance of the meeting the card stands for; None when the key is not a meeting card's."""
    from workflow.machine import record_refusal
    try:
        meeting_id = actions.parse_meeting(event.key)
    except ValueError:
        return None
    if meeting_id is None:
        return None
    try:
        row = preshift.confirm(meeting_id, by=person, now=utcnow())
    except WorkflowError as exc:
        record_refusal(None, by=person, command="meeting_confirm", reason=exc.message, channel=event.platform)
        Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"
    Replier(event, person)(f"已确认参加 {row.meeting.leader.name} 班组 {row.meeting.day:%m-%d} 班前会")
    return "meeting confirmed"
