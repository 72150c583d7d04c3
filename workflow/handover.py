"""Shift handover (交接班) of a permit's guardian or work leader: asked, confirmed by both, then swapped.

The permit's people change only when the outgoing person has confirmed the state of the job and the
incoming one has confirmed it on site (a fresh scan of the site QR code). Until then the outgoing
person holds the part, so a guardian who simply walks off still stops the work.
"""
from __future__ import annotations

from datetime import datetime

import settings
from models import GasReading, Outbox, Person, StepAssignee, database
from models.people import Ambiguous, NameProblem, resolve
from models.handover import Handover
from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit, PermitMember

from . import hooks, machine, onsite
from .clock import local
from .errors import GateNotMet, InvalidPermit, NotAuthorized, NotCertified, NotFound
from .machine import Ctx, Outcome, run

GUARDIAN, LEADER, CREW = onsite.GUARDIAN, onsite.WORK_LEADER, onsite.CREW
OPEN = ("pending", "confirmed_out")
# The org role the incoming person must hold, and the permit role whose certificates apply.
QUALIFIES = {GUARDIAN: GUARDIAN, LEADER: CREW}


def _row(permit: Permit, role: str, person: Person) -> PermitMember | None:
    """Return the member row that gives person the part: the guardian's, or the leader's crew row."""
    if role == GUARDIAN:
        return PermitMember.get_or_none((PermitMember.permit == permit) & (PermitMember.role == GUARDIAN)
                                        & (PermitMember.person == person))
    leader = onsite.work_leader(permit)
    if leader is None or leader.id != person.id:
        return None
    return PermitMember.get((PermitMember.permit == permit) & (PermitMember.role == CREW)
                            & (PermitMember.person == person))


def _part_of(permit: Permit, person: Person) -> str:
    if _row(permit, GUARDIAN, person) is not None:
        return GUARDIAN
    if _row(permit, LEADER, person) is not None:
        return LEADER
    raise NotAuthorized(f"只有作业负责人或监护人可以交接班，{person.name}不是作业票 {permit.no} 的作业负责人或监护人")


def _certificate_problems(permit: Permit, role: str, outgoing: Person, incoming: Person,
                          at: datetime) -> list[str]:
    """Check the incoming person's certificates as if they held the part, and leave the permit as it was."""
    row = _row(permit, role, outgoing)
    with database.atomic() as trial:
        PermitMember.update(person=incoming).where(PermitMember.id == row.id).execute()
        found = hooks.problems("certificates", permit, roles=(QUALIFIES[role],), at=at)
        trial.rollback()
    return [p for p in found if p.startswith(incoming.name)]


def _check_incoming(permit: Permit, role: str, outgoing: Person, incoming: Person, at: datetime) -> None:
    if incoming.id == outgoing.id:
        raise InvalidPermit("不能交接给自己")
    if QUALIFIES[role] not in incoming.role_names():
        raise NotAuthorized(f"{incoming.name}没有“{QUALIFIES[role]}”资格，不能接任{role}")
    same = PermitMember.get_or_none((PermitMember.permit == permit) & (PermitMember.person == incoming)
                                    & (PermitMember.role == QUALIFIES[role]))
    if same is not None:
        raise InvalidPermit(f"{incoming.name}已是作业票 {permit.no} 的{QUALIFIES[role]}")
    found = _certificate_problems(permit, role, outgoing, incoming, at)
    if found:
        raise NotCertified("；".join(found), roles=(QUALIFIES[role],))


def situation(permit: Permit) -> dict:
    """Return what the outgoing person confirms: gas, crew, open actions and isolations, as words."""
    tz = settings.current().plant_tz
    reading = (GasReading.select().where(GasReading.permit == permit)
               .order_by(GasReading.taken_at.desc(), GasReading.id.desc()).first())
    gas = (f"{local(reading.taken_at, tz):%m-%d %H:%M} {reading.verdict.get('text', '')}" if reading else "无检测记录")
    step = machine.active_step(permit)
    actions = (f"{step.name}（待 {'、'.join(p.name for p in machine.assignees(step))}）" if step else "无")
    points = (IsolationPoint.select().join(IsolationLink).where(IsolationLink.permit == permit)
              .order_by(IsolationLink.id))
    isolations = "、".join(f"{p.tag} {STATE_LABELS[p.state]}" for p in points) or "无"
    return {"气体": gas, "作业人": "、".join(p.name for p in machine.members(permit, CREW)) or "—",
            "监护人": "、".join(p.name for p in machine.members(permit, GUARDIAN)) or "—",
            "待办": actions, "能量隔离": isolations}


def _card(handover: Handover, person: Person, side: str, permit_no: str) -> None:
    (Outbox.insert(permit_no=permit_no, person=person, kind="handover",
                   payload={"kind": "handover", "handover": handover.id, "side": side},
                   dedupe_key=f"handover:{handover.id}:{side}:{person.id}")
     .on_conflict_ignore().execute())


def request(permit_no: str, account: str, *, by: Person, now: datetime | None = None) -> Outcome:
    """Ask to hand over by's part (交接 编号 接班人): the outgoing person gets the state to confirm."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        role = _part_of(permit, by)
        try:
            incoming = resolve(account)
        except Ambiguous:
            raise   # the chat asks which namesake by a card and runs the handover again
        except NameProblem as exc:
            joint = "。" if exc.candidates else "："   # after the suggestions, a sentence of its own
            raise NotFound(f"{exc.message}{joint}接班人须是本厂组织架构中的在职人员") from None
        _check_incoming(permit, role, by, incoming, ctx.now)
        if Handover.select().where((Handover.permit == permit) & (Handover.role == role)
                                   & Handover.state.in_(OPEN)).exists():
            raise GateNotMet(f"作业票 {permit.no} 的{role}已有一项交接班尚未完成")
        facts = situation(permit)
        handover = Handover.create(permit=permit, role=role, outgoing=by, incoming=incoming,
                                   situation=facts, requested_at=ctx.now)
        _card(handover, by, "out", permit.no)
        ctx.bump = False
        ctx.data = {"handover": handover.id, "role": role, "outgoing": by.label(),
                    "incoming": incoming.label(), "situation": facts}
        ctx.detail = f"已发起交接：{role} {by.name} → {incoming.name}。请在卡片上确认当前作业状态"
    return run(permit_no, "handover", body, by=by, now=now)


def _open(handover_id: int) -> Handover:
    handover = Handover.get_or_none(Handover.id == handover_id)
    if handover is None:
        raise NotFound("没有这项交接班")
    return handover


def _swap(ctx: Ctx, handover: Handover) -> None:
    """Give the incoming person the part, and their turn at the step they now sign instead."""
    permit, out, new = ctx.permit, handover.outgoing, handover.incoming
    row = _row(permit, handover.role, out)
    if row is None:
        raise InvalidPermit(f"{out.name}已不是作业票 {permit.no} 的{handover.role}，交接作废")
    row.person = new
    row.save()
    step = machine.active_step(permit)
    if step is not None and out.id in {p.id for p in machine.assignees(step)}:
        StepAssignee.delete().where((StepAssignee.step == step) & (StepAssignee.round == step.round)
                                    & (StepAssignee.person == out)).execute()
        StepAssignee.insert(step=step, person=new, round=step.round, reason="handover") \
            .on_conflict_ignore().execute()
        ctx.tell([out], "outcome", f"{handover.role}已交接给 {new.name}，本步骤改由其办理", step.key)
        ctx.tell([new], "act", f"您已接任{handover.role}：请办理 {permit.no} · {step.name}", step.key)


def confirm(handover_id: int, *, by: Person, channel: str = "cli", now: datetime | None = None) -> Outcome:
    """Confirm a handover: first the outgoing person (the state), then the incoming one on site."""
    handover = _open(handover_id)

    def body(ctx: Ctx) -> None:
        current = Handover.get_by_id(handover.id)
        if current.state not in OPEN:
            raise GateNotMet(f"这项交接班已{'完成' if current.state == 'done' else '取消'}")
        if current.state == "pending":
            if by.id != current.outgoing_id:
                raise NotAuthorized(f"应由交班人 {current.outgoing.name} 先确认作业状态")
            current.state, current.out_confirmed_at = "confirmed_out", ctx.now
            current.save()
            _card(current, current.incoming, "in", ctx.permit.no)
            _card(current, current.outgoing, "settle-out", ctx.permit.no)
            ctx.data = {"handover": current.id, "side": "out", "channel": channel}
            ctx.detail = f"交班确认：已通知接班人 {current.incoming.name} 到现场扫码签到后确认接班"
            ctx.bump = False
            return
        if by.id != current.incoming_id:
            raise NotAuthorized(f"应由接班人 {current.incoming.name} 确认接班")
        t = ctx.template
        if onsite.valid_check_in(ctx.permit, by, ctx.now, t.checkin_minutes) is None:
            raise GateNotMet(f"请先到现场扫码签到（{t.checkin_minutes} 分钟内有效），再确认接班")
        _check_incoming(ctx.permit, current.role, current.outgoing, by, ctx.now)
        _swap(ctx, current)
        current.state, current.in_confirmed_at = "done", ctx.now
        current.save()
        _card(current, by, "settle-in", ctx.permit.no)
        everyone = [ctx.permit.applicant, current.outgoing] + machine.crew_and_guardians(ctx.permit)
        ctx.tell(everyone, "info", f"{ctx.permit.no} 交接班完成：{current.role} {current.outgoing.name} → {by.name}")
        ctx.data = {**ctx.data, "handover": current.id, "side": "in", "role": current.role,
                    "outgoing": current.outgoing.label(), "incoming": by.label(), "channel": channel}
        ctx.detail = f"已接任{current.role}"
    return run(handover.permit.no, "handover_confirm", body, by=by, now=now)
