"""Findings past their deadline: remind the responsible person, then escalate up the unit's chain.

The timers live on the finding (remind_at, escalate_at), indexed, and each is taken by a conditional
update in the transaction that acts on it: a second scan, or one running beside it, finds nothing left.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import settings
from models import Person, transaction
from models.hazard import ASSIGNED, RECTIFYING, Finding
from models.area import lineage
from models.permit import Permit
from workflow import audit, places

from . import notify
from .findings import when

BATCH = 500
# Between escalation levels once a finding is overdue; the demo shortens it with the step limits.
ESCALATE_EVERY = timedelta(hours=24)
CHASED = (ASSIGNED, RECTIFYING)


def _interval() -> timedelta:
    return ESCALATE_EVERY * settings.current().step_limit_factor


def _take(finding_id: int, column, seen: datetime, **changes) -> bool:
    """Claim the timer if nobody moved it since the scan read it."""
    return Finding.update(**changes).where((Finding.id == finding_id) & (column == seen)).execute() == 1


def remind_due(now: datetime) -> int:
    """Tell each overdue finding's responsible person; start its escalation clock."""
    rows = (Finding.select(Finding.id, Finding.remind_at)
            .where((Finding.remind_at <= now) & Finding.state.in_(CHASED)).order_by(Finding.remind_at).limit(BATCH))
    done = 0
    for finding_id, seen in list(rows.tuples()):
        with transaction():
            if not _take(finding_id, Finding.remind_at, seen, remind_at=None, escalate_at=now + _interval()):
                continue
            f = Finding.get_by_id(finding_id)
            audit.append(permit_no=None, actor="系统", action="hazard_overdue",
                         data={"finding": f.no, "deadline": f.deadline.isoformat() if f.deadline else None}, at=now)
            notify.tell([f.responsible], f"催办：隐患 {f.no} {f.place} 已超过整改期限 {when(f.deadline)}，请尽快整改",
                        f"{f.no}:overdue:{f.rejections}")
            done += 1
    return done


def escalate_due(now: datetime) -> int:
    """Hand each still-overdue finding to the next level of its unit's chain, until the chain is used up."""
    rows = (Finding.select(Finding.id, Finding.escalate_at)
            .where((Finding.escalate_at <= now) & Finding.state.in_(CHASED)).order_by(Finding.escalate_at)
            .limit(BATCH))
    done = 0
    for finding_id, seen in list(rows.tuples()):
        with transaction():
            f = Finding.get_by_id(finding_id)
            levels = [[p for p in level if p.id != f.responsible_id] for level in notify.chain(f.unit)]
            levels = [level for level in levels if level]
            level = f.escalation_level
            nxt = now + _interval() if level + 1 < len(levels) else None
            if not _take(finding_id, Finding.escalate_at, seen, escalate_at=nxt, escalation_level=level + 1):
                continue
            people: list[Person] = levels[level] if level < len(levels) else []
            audit.append(permit_no=None, actor="系统", action="hazard_escalated",
                         data={"finding": f.no, "level": level + 1, "to": [p.id for p in people]}, at=now)
            who = f.responsible.name if f.responsible else "责任人"
            notify.tell(people, f"超期上报：隐患 {f.no} {f.place}（{f.description}）整改期限 {when(f.deadline)} 已过，"
                                f"{who}尚未整改完成，请督办", f"{f.no}:escalated:{f.rejections}:{level + 1}")
            done += 1
    return done


def hold_problems(permit: Permit, **_kwargs) -> list[str]:
    """The submit gate: no new permit in an area held by an open 重大 finding there or above it."""
    node = places.area_of(permit)
    if node is None:
        return []
    above = lineage(node.id)
    held = (Finding.select().where(Finding.blocks_permits & Finding.closed_at.is_null()
                                   & Finding.area.in_(above)).order_by(Finding.id))
    return [f"{f.place}有未关闭的重大隐患 {f.no}（{f.description}），关闭前不能办理新的作业票" for f in held]
