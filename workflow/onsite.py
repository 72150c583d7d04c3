"""Who is at the work site: check-ins by scan, check-outs, visits, and the rules that read them.

A person's presence at a permit is the newest of their check-in (in) and check-out (out) rows: a
check-in counts for the template's checkin_minutes unless a check-out follows it. A scan by someone
with no part in the permit is a visit: recorded, and it never counts as a check-in.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from models import CheckIn, Person, Step, StepAssignee, transaction, utcnow
from models.handover import Handover
from models.permit import Permit

from . import assign, machine, template as templates
from .errors import GateNotMet, InvalidPermit
from .machine import Ctx, Outcome, run
from .states import IN_PROGRESS
from .suspension import suspend
from .template import Template

GUARDIAN, WORK_LEADER, CREW = "监护人", "作业负责人", "作业人"
# The door where a person proves presence with their own phone: there the phone must say where it is.
# The command line is the safety office's own record (a paper check-in typed in), audited as such.
LOCATED_SOURCES = {"scan"}
DATUMS = ("wgs84", "gcj02")   # GPS, and China's map datum, which DingTalk's location API answers in
# Steps signed only by the people the applicant named are covered by their permit role.
_MEMBER_ROLES = {"申请人", CREW, GUARDIAN}


def work_leader(permit: Permit) -> Person | None:
    """Return the work leader: the first worker the applicant named (作业人, first on the list)."""
    crew = machine.members(permit, CREW)
    return crew[0] if crew else None


def roles_on(permit: Permit, person: Person) -> list[str]:
    """Return person's parts in permit: 申请人, 作业负责人, 作业人, 监护人 and the steps they sign."""
    roles = ["申请人"] if person.id == permit.applicant_id else []
    crew = machine.members(permit, CREW)
    if crew and crew[0].id == person.id:
        roles.append(WORK_LEADER)
    elif person.id in {p.id for p in crew}:
        roles.append(CREW)
    if person.id in {p.id for p in machine.members(permit, GUARDIAN)}:
        roles.append(GUARDIAN)
    if Handover.select().where((Handover.permit == permit) & (Handover.incoming == person)
                               & Handover.state.in_(["pending", "confirmed_out"])).exists():
        roles.append("接班人")   # their scan is the on-site half of taking over
    t = templates.get(permit.work_type)
    assigned = {a.step_id for a in StepAssignee.select(StepAssignee.step).join(Step).where(
        (Step.permit == permit) & (StepAssignee.person == person))}
    for step in machine.steps(permit):
        d = t.step(step.key)
        if step.state == "skipped" or set(d.roles) <= _MEMBER_ROLES:
            continue
        # A signer of a step still ahead is on the permit too: approvers arrive together.
        if step.id in assigned or (step.state == "pending"
                                   and person.id in {p.id for p in assign.resolve(d, permit)}):
            roles.append(step.name)
    return roles


def _marks(permit: Permit, person: Person, now: datetime):
    return (CheckIn.select().where((CheckIn.permit == permit) & (CheckIn.person == person)
                                   & CheckIn.kind.in_(["in", "out"]) & (CheckIn.at <= now))
            .order_by(CheckIn.at.desc(), CheckIn.id.desc()))


def valid_check_in(permit: Permit, person: Person, now: datetime, minutes: int) -> CheckIn | None:
    """Return person's check-in at permit if it is at most minutes old and not followed by a check-out."""
    newest = newest_mark(permit, person, now)
    if newest is None or newest.kind != "in" or newest.at < now - timedelta(minutes=minutes):
        return None
    return newest


def newest_mark(permit: Permit, person: Person, now: datetime) -> CheckIn | None:
    """Return person's newest check-in or check-out (离开现场) at permit, visits aside."""
    return _marks(permit, person, now).first()


def last_mark(permit: Permit, person: Person, now: datetime) -> str | None:
    """Return "in" or "out", whichever person did last at permit, or None."""
    newest = newest_mark(permit, person, now)
    return newest.kind if newest is not None else None


def require_approver_on_site(permit: Permit, t: Template, person: Person, now: datetime) -> None:
    """Refuse unless person checked in at the work site within the template's window."""
    if valid_check_in(permit, person, now, t.checkin_minutes) is None:
        raise GateNotMet(f"请先到现场扫码签到（签到 {t.checkin_minutes} 分钟内有效），再审批")


def people_in_roles(permit: Permit, roles: tuple[str, ...]) -> list[tuple[str, Person]]:
    """Return (role, person) for every person a presence rule names, in the rule's order."""
    found: list[tuple[str, Person]] = []
    for role in roles:
        people = [work_leader(permit)] if role == WORK_LEADER else machine.members(permit, role)
        found += [(role, p) for p in people if p is not None]
    return found


def require_present(permit: Permit, t: Template, roles: tuple[str, ...], now: datetime) -> None:
    """Refuse unless everyone in roles (e.g. 监护人, 作业负责人) has a valid check-in."""
    missing = [f"{role} {p.name}" for role, p in people_in_roles(permit, roles)
               if valid_check_in(permit, p, now, t.checkin_minutes) is None]
    if missing:
        raise GateNotMet(f"开工前须现场扫码签到：{'、'.join(missing)}（签到 {t.checkin_minutes} 分钟内有效）")


def _location(location: dict | None) -> dict:
    """Return the phone's WGS-84 position as columns, nothing when it gave none; refuse nonsense."""
    if not location:
        return {}
    datum = location.get("datum") or "wgs84"
    try:
        lat, lng = float(location["latitude"]), float(location["longitude"])
        accuracy = float(location["accuracy"]) if location.get("accuracy") not in (None, "") else None
    except (KeyError, TypeError, ValueError):
        raise InvalidPermit("位置信息格式不对") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (accuracy is not None and accuracy < 0):
        raise InvalidPermit("位置信息超出范围")
    if datum not in DATUMS:
        raise InvalidPermit("位置信息的坐标系不对")
    if datum == "gcj02":
        from .datum import gcj02_to_wgs84
        lat, lng = gcj02_to_wgs84(lat, lng)
    return {"latitude": lat, "longitude": lng, "accuracy": accuracy}


def _mark(ctx: Ctx, kind: str, roles: list[str], source: str, where: dict) -> CheckIn:
    row = CheckIn.create(permit=ctx.permit, person=ctx.by, at=ctx.now, source=source, kind=kind,
                         role="、".join(roles)[:100] or "到访", **where)
    ctx.bump = False   # a fact about the site, not a change of the permit: no card goes stale
    ctx.data = {"source": source, "kind": kind, "role": row.role, **({"location": where} if where else {})}
    return row


def _within_fence(permit: Permit, where: dict, source: str) -> None:
    """Refuse a position outside the site's radius, naming the distance, and a phone that gave none.

    A site without a fence checks nothing; the board says so.
    """
    from . import places
    fence = places.fence_of(permit)
    if fence is None:
        return
    if not where:
        if source not in LOCATED_SOURCES:
            return
        raise GateNotMet(f"未取得手机位置：在“{fence.name}”签到须核对位置。请允许获取位置（打开手机定位）后重新扫码签到")
    away = places.distance_m(where["latitude"], where["longitude"], fence.latitude, fence.longitude)
    if away > fence.radius:
        raise GateNotMet(f"您距作业地点“{fence.name}”约 {away:.0f} 米，超出签到范围 {fence.radius:.0f} 米，"
                         "请到作业现场后再扫码签到")


def check_in(permit_no: str, *, by: Person, source: str = "cli", location: dict | None = None,
             now: datetime | None = None) -> Outcome:
    """Record that a person is at the work site (scan of the on-site QR code); others are visits."""
    def body(ctx: Ctx) -> None:
        roles = roles_on(ctx.permit, ctx.by)
        if location and location.get("mock"):
            # DingTalk's Android client says when a mock-location app supplied the position.
            raise GateNotMet("手机定位来自模拟定位（虚拟定位）软件，不能用于现场签到。请关闭该软件后重新扫码签到")
        where = _location(location)
        _within_fence(ctx.permit, where, source)
        row = _mark(ctx, "in" if roles else "visit", roles, source, where)
        ctx.detail = (f"{ctx.by.name}（{row.role}）现场签到，{ctx.template.checkin_minutes} 分钟内有效"
                      if roles else f"{ctx.by.name} 不在本作业票上：已登记到访，不作为签到")
    return run(permit_no, "check_in", body, by=by, now=now)


def check_out(permit_no: str, *, by: Person, source: str = "cli", location: dict | None = None,
              now: datetime | None = None) -> Outcome:
    """Record that a person left the work site; a guardian leaving running work suspends it."""
    now = now or utcnow()
    stops = []

    def body(ctx: Ctx) -> None:
        if last_mark(ctx.permit, ctx.by, ctx.now) != "in":
            raise GateNotMet(f"{ctx.by.name} 没有在本作业票现场签到，无需离开现场登记")
        # Leaving is never refused for want of a position: a guardian's departure must stop the work.
        _mark(ctx, "out", roles_on(ctx.permit, ctx.by), source, _location(location))
        guardian = ctx.by.id in {p.id for p in machine.members(ctx.permit, GUARDIAN)}
        if guardian and ctx.permit.state == IN_PROGRESS:
            stops.append(f"监护人 {ctx.by.name} 离开现场")
        ctx.data["stops_work"] = bool(stops)
        ctx.detail = f"{ctx.by.name} 已离开现场" + ("，作业暂停" if stops else "")

    with transaction():   # the check-out and the suspension it causes stand or fall together
        out = run(permit_no, "check_out", body, by=by, now=now)
        if stops:
            out = replace(suspend(permit_no, by=None, reason=stops[0], now=now), detail=out.detail)
    return out

