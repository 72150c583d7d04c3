"""The engine's isolation gates: no start before every point is verified; release once the last permit ends."""
from __future__ import annotations

from datetime import datetime

from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit
from workflow import template as templates

from .points import assign_release, permits_of


def start_problems(permit: Permit, *, at: datetime) -> list[str]:
    """Name what stands between the permit and its start: no points where needed, or points still open."""
    links = list(IsolationLink.select(IsolationLink, IsolationPoint).join(IsolationPoint)
                 .where((IsolationLink.permit == permit) & (IsolationLink.purpose == "depends"))
                 .order_by(IsolationLink.id))
    if not links and templates.get(permit.work_type).needs_isolation(permit.grade):
        return [f"本作业须先完成能量隔离：请发送“隔离 {permit.no} 点位 方式 锁号”登记隔离点位"]
    unfinished = [f"{link.point.tag}（{STATE_LABELS[link.point.state]}）" for link in links
                  if link.point.state != "verified"]
    return [f"能量隔离未完成，不能开工：{'、'.join(unfinished)}"] if unfinished else []


def release_problems(permit: Permit, *, at: datetime) -> list[str]:
    """Assign the release of every point the ended permit was the last to hold; name any nobody can sign."""
    points = (IsolationPoint.select().join(IsolationLink)
              .where((IsolationLink.permit == permit) & IsolationPoint.state.in_(["isolated", "verified"])))
    found = []
    for point in points:
        if permits_of(point, still_open=True):
            continue
        if assign_release(point, at=at) is None:
            found.append(f"点位 {point.tag} 无人可签解除隔离：隔离人已停用，且单位无负责人或安全员")
    return found
