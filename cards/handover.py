"""Cards of a shift handover: the outgoing person confirms the job's state, the incoming one takes over."""
from __future__ import annotations

from models.handover import Handover

from . import actions, links
from .card import PRIMARY, Button, Card, Field

SIDES = {"out": ("交接班：请确认当前作业状态", "确认交班",
                 "请核对气体、人员、待办和能量隔离，确认后通知接班人"),
         "in": ("交接班：请到现场接班", "确认接班",
                "请先到现场扫描作业票二维码签到，核对以上状态后点击“确认接班”")}


def task_id(handover_id: int, side: str, person_id: int, serial: int | None = None) -> str:
    return f"handover-{handover_id}-{side}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _fields(handover: Handover) -> tuple[Field, ...]:
    facts = handover.situation or {}
    return ((Field("作业票", handover.permit.no), Field("交接", f"{handover.role} {handover.outgoing.name} → "
                                                            f"{handover.incoming.name}"))
            + tuple(Field(name, str(value)) for name, value in facts.items()))


def ask_card(handover_id: int, side: str, *, person_id: int, base_url: str = "",
             serial: int | None = None) -> Card:
    """Return the card asking the outgoing (out) or incoming (in) person to confirm, or its outcome."""
    handover = Handover.get_by_id(handover_id)
    waiting = {"out": "pending", "in": "confirmed_out"}[side]
    if handover.state != waiting:
        return settled_card(handover_id, side, task_id=task_id(handover_id, side, person_id, serial))
    title, label, notice = SIDES[side]
    return Card(kind="sign", task_id=task_id(handover_id, side, person_id, serial), title=title,
                subtitle=f"{handover.permit.no} {handover.permit.location}", fields=_fields(handover),
                buttons=(Button(label, actions.handover_key(handover.id), PRIMARY),), notice=notice,
                url=links.url(handover.permit, base_url=base_url) if base_url else "")


def settled_card(handover_id: int, side: str, *, task_id: str) -> Card:
    """Return what a handover card becomes once its side is confirmed (or the handover ended)."""
    handover = Handover.get_by_id(handover_id)
    text = {"done": "交接班已完成", "cancelled": "交接班已取消"}.get(
        handover.state, "已确认交班，等待接班人到现场确认" if side == "out" else "等待交班人确认")
    return Card(kind="outcome", task_id=task_id, title=f"已办理：{SIDES[side][1]}",
                subtitle=handover.permit.no, fields=_fields(handover), buttons=(), notice=text)
