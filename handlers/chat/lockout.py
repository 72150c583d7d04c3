"""Chat commands and card clicks of energy isolation (隔离 / 隔离确认 / 解除隔离) and shift handover (交接)."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from isolation import points
from models import Person
from models.handover import Handover
from workflow import WorkflowError, handover
from workflow.machine import record_refusal

from .replies import Replier

USAGE = {"隔离": "隔离 编号 点位 方式 锁号 [挂牌号]（方式：" + "、".join(points.METHODS) + "）",
         "隔离确认": "隔离确认 编号 点位", "解除隔离": "解除隔离 点位", "交接": "交接 编号 接班人（姓名、账号或手机号）"}


def _words(head: str, least: int, most: int, verb: str) -> list[str]:
    parts = head.split()
    if not least <= len(parts) <= most:
        raise WorkflowError(f"格式：{USAGE[verb]}")
    return parts


def isolate(head, _lines, person, reply, _event) -> None:
    parts = _words(head, 5, 6, "隔离")
    _, no, tag, method, lock_no = parts[:5]
    out = points.register(no, tag=tag, method=method, lock_no=lock_no,
                          tag_no=parts[5] if len(parts) == 6 else "", by=person)
    reply(f"{no} {out.detail}", permit_no=no)


def verify(head, _lines, person, reply, event) -> None:
    _, no, tag = _words(head, 3, 3, "隔离确认")
    reply(points.verify(tag, by=person, permit_no=no, channel=event.platform), permit_no=no)


def release(head, _lines, person, reply, event) -> None:
    _, tag = _words(head, 2, 2, "解除隔离")
    reply(points.release(tag, by=person, channel=event.platform))


def hand_over(head, _lines, person, reply, _event) -> None:
    _, no, account = _words(head, 3, 3, "交接")
    out = handover.request(no, account, by=person)
    reply(f"{no} {out.detail}", permit_no=no)


COMMANDS = {"隔离": isolate, "隔离确认": verify, "解除隔离": release, "交接": hand_over}


def handle_click(event: Event, person: Person) -> str | None:
    """Apply an isolation or handover button; None when the key is neither."""
    try:
        isolation, handed = actions.parse_isolation(event.key), actions.parse_handover(event.key)
    except ValueError:
        return None
    if isolation is None and handed is None:
        return None
    permit_no = None
    try:
        if isolation is not None:
            ask, point_id = isolation
            point = points.IsolationPoint.get_or_none(points.IsolationPoint.id == point_id)
            if point is None:
                raise WorkflowError("没有这个隔离点位")
            act = points.verify if ask == "verify" else points.release
            Replier(event, person)(act(point.tag, by=person, channel=event.platform))
            return "done"
        row = Handover.get_or_none(Handover.id == handed)
        permit_no = row.permit.no if row else None
        handover.confirm(handed, by=person, channel=event.platform)
        return "done"
    except WorkflowError as exc:
        record_refusal(permit_no, by=person, command="isolation" if isolation else "handover",
                       reason=exc.message, channel=event.platform, tell=f"未办理：{exc.message}")
        if permit_no is None:
            Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"
