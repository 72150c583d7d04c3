"""Cards about one isolation point: 确认隔离 for the second person, 解除隔离 for whoever signs the release."""
from __future__ import annotations

import settings
from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit
from workflow.clock import local

from . import actions
from .card import PRIMARY, Button, Card, Field

ASKS = {"verify": ("请确认能量隔离", "确认隔离", "请到现场核对锁具和挂牌，确认后点击“确认隔离”"),
        "release": ("请解除能量隔离", "解除隔离", "依赖本点位的作业票均已关闭。请到现场摘牌解锁，完成后点击“解除隔离”")}


def task_id(point_id: int, ask: str, person_id: int, serial: int | None = None) -> str:
    return f"isolation-{point_id}-{ask}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _fields(point: IsolationPoint) -> tuple[Field, ...]:
    tz = settings.current().plant_tz
    permits = (Permit.select(Permit.no).join(IsolationLink).where(IsolationLink.point == point)
               .order_by(IsolationLink.id))
    return (Field("点位", f"{point.tag}（{point.kind}）"), Field("方式", point.method),
            Field("锁号/挂牌号", f"{point.lock_no} / {point.tag_no}"),
            Field("隔离人", f"{point.isolated_by.name} {local(point.isolated_at, tz):%m-%d %H:%M}"),
            Field("确认人", point.verified_by.name if point.verified_by_id else "—"),
            Field("作业票", "、".join(p.no for p in permits) or "—"),
            Field("状态", STATE_LABELS[point.state]))


def ask_card(point_id: int, ask: str, *, person_id: int, serial: int | None = None) -> Card:
    """Return the card asking person to verify or release the point, or its outcome if that is done."""
    point = IsolationPoint.get_by_id(point_id)
    title, label, notice = ASKS[ask]
    done = (ask == "verify" and point.state != "isolated") or (ask == "release" and point.state == "released")
    if done:
        return settled_card(point_id, ask, task_id=task_id(point_id, ask, person_id, serial))
    return Card(kind="sign", task_id=task_id(point_id, ask, person_id, serial), title=title,
                subtitle=f"{point.tag} {point.method}", fields=_fields(point),
                buttons=(Button(label, actions.isolation_key(ask, point.id), PRIMARY),), notice=notice)


def settled_card(point_id: int, ask: str, *, task_id: str) -> Card:
    """Return what a verify or release card turns into once someone signed it."""
    point = IsolationPoint.get_by_id(point_id)
    tz = settings.current().plant_tz
    if ask == "verify":
        who, at = point.verified_by, point.verified_at
        text = f"已由 {who.name} 于 {local(at, tz):%m-%d %H:%M} 确认隔离" if who else "已不需要您确认"
    else:
        who, at = point.released_by, point.released_at
        text = f"已由 {who.name} 于 {local(at, tz):%m-%d %H:%M} 解除隔离" if who else "已不需要您解除"
    return Card(kind="outcome", task_id=task_id, title=f"已办理：{ASKS[ask][1]}", subtitle=point.tag,
                fields=_fields(point), buttons=(), notice=text)
