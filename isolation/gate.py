"""The engine's isolation gates: no start before every point is verified; release once the last permit ends."""
from __future__ import annotations

from datetime import datetime

from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit
from workflow import template as templates

from .points import assign_release, blind_in_place, permits_of


def start_problems(permit: Permit, *, at: datetime) -> list[str]:
    """Name what stands between the permit and its start: no points where needed, or points still open."""
    every = list(IsolationLink.select(IsolationLink, IsolationPoint).join(IsolationPoint)
                 .where(IsolationLink.permit == permit).order_by(IsolationLink.id))
    links = [link for link in every if link.purpose == "depends"]
    if not links and templates.get(permit.work_type).needs_isolation(permit.grade):
        return [f"本作业须先完成能量隔离：请发送“隔离 {permit.no} 点位 方式 锁号”登记隔离点位"]
    found = []
    unfinished = [f"{link.point.tag}（{STATE_LABELS[link.point.state]}）" for link in links
                  if link.point.state != "verified"]
    if unfinished:
        found.append(f"能量隔离未完成，不能开工：{'、'.join(unfinished)}")
    if permit.work_type == "blind_plate":
        found += _blind_problems(permit, [link for link in every if link.purpose != "depends"])
    return found


def _blind_problems(permit: Permit, own: list[IsolationLink]) -> list[str]:
    """A 盲板抽堵 permit names its blind among its points; a blind is not removed while others rely on it."""
    blind = (permit.attributes or {}).get("blind_no", "")
    if not own:
        return [f"请登记本票{permit.attributes.get('action', '')}的盲板：发送“隔离 {permit.no} {blind} 加盲板 锁号”"]
    users = [p.no for link in own if link.purpose == "removes"
             for p in permits_of(link.point, still_open=True) if p.id != permit.id]
    return [f"盲板 {blind} 仍有作业票 {'、'.join(users)} 依赖，不能抽除"] if users else []


def release_problems(permit: Permit, *, at: datetime) -> list[str]:
    """Assign the release of every point the ended permit was the last to hold; name any nobody can sign."""
    points = (IsolationPoint.select().join(IsolationLink)
              .where((IsolationLink.permit == permit) & IsolationPoint.state.in_(["isolated", "verified"])))
    found = []
    for point in points:
        if permits_of(point, still_open=True) or blind_in_place(point):
            continue    # a fitted blind stays in the line until a removing permit has closed
        if assign_release(point, at=at) is None:
            found.append(f"点位 {point.tag} 无人可签解除隔离：隔离人已停用，且单位无负责人或安全员")
    return found
