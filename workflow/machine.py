"""How every command runs: lock the permit, check the state, apply, audit, notify, in one transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import settings
from models import ChangeRequest, Person, Signature, Step, StepAssignee, transaction, utcnow
from models.db import for_update
from models.permit import Permit, PermitMember

from . import assign, audit, hooks, signed, states, template as templates
from .clock import local
from .errors import GateNotMet, InvalidPermit, NotFound, StaleVersion
from .notify import Notification, queue
from .states import CLOSED, PHASE_STATE
from .template import Template

COMPLETING = ("approve", "confirm", "gas")
DECISION_LABELS = {"approve": "同意", "confirm": "确认", "gas": "检测合格", "reject": "驳回",
                   "return": "退回修改", "rectify": "验收不通过"}


@dataclass
class Ctx:
    permit: Permit
    template: Template
    by: Person | None
    now: datetime
    command: str
    data: dict = field(default_factory=dict)
    notes: list[Notification] = field(default_factory=list)
    bump: bool = True      # False for commands that record facts without changing the permit
    signed: list[Signature] = field(default_factory=list)   # recorded in the command's audit event
    detail: str = ""

    def tell(self, people, kind: str, text: str, step: str | None = None) -> None:
        for person in people:
            self.notes.append(Notification(person.id, kind, text, step))


@dataclass(frozen=True)
class Outcome:
    permit_no: str
    state: str
    version: int
    notifications: tuple[Notification, ...]
    detail: str = ""


def actor(by: Person | None) -> str:
    return by.label() if by is not None else "系统"


def load(permit_no: str, *, lock: bool = False) -> Permit:
    """Return the permit by number (locked for the transaction when lock is set)."""
    query = Permit.select().where(Permit.no == permit_no)
    permit = (for_update(query) if lock else query).first()
    if permit is None:
        raise NotFound(f"没有编号为 {permit_no} 的作业票")
    return permit


def run(permit_no: str, command: str, body: Callable[[Ctx], None], *, by: Person | None,
        now: datetime | None = None, expected_version: int | None = None) -> Outcome:
    """Apply body to the permit as one command; any WorkflowError leaves nothing changed."""
    now = now or utcnow()
    with transaction():
        permit = load(permit_no, lock=True)
        states.check(permit, command)
        check_version(permit, expected_version)
        ctx = Ctx(permit, templates.get(permit.work_type), by, now, command)
        body(ctx)
        return finish(ctx)


def check_version(permit: Permit, expected_version: int | None) -> None:
    """Refuse a command sent from a card older than the permit."""
    if expected_version is not None and expected_version != permit.version:
        raise StaleVersion(f"作业票 {permit.no} 已更新，请查看最新卡片后再操作")


def finish(ctx: Ctx) -> Outcome:
    """Save the permit, append the audit event and queue the notifications."""
    permit = ctx.permit
    if ctx.bump:
        permit.version += 1
    permit.save()
    data = {**ctx.data, "snapshot": audit.snapshot(permit)}
    if ctx.signed:
        data["signatures"] = [signed.record(s) for s in ctx.signed]
    event = audit.append(permit_no=permit.no, actor=actor(ctx.by), action=ctx.command, data=data, at=ctx.now)
    queue(permit.no, event.seq, ctx.notes)
    if permit.state in states.FINAL:
        # A change still waiting would change a permit that has ended: nobody need approve it.
        ChangeRequest.update(state="void", decided_at=ctx.now).where(
            (ChangeRequest.permit == permit) & (ChangeRequest.state == "pending")).execute()
        # No command starts from a final state, so this one just ended the permit: the isolations
        # it held may now be due for release.
        found = hooks.problems("isolation_release", permit, at=ctx.now)
        if found:
            raise GateNotMet("；".join(found))
    return Outcome(permit.no, permit.state, permit.version, tuple(ctx.notes), ctx.detail)


def steps(permit: Permit) -> list[Step]:
    return list(Step.select().where(Step.permit == permit).order_by(Step.seq))


def active_step(permit: Permit) -> Step | None:
    return Step.select().where((Step.permit == permit) & (Step.state == "active")).first()


def assignees(step: Step) -> list[Person]:
    return [a.person for a in StepAssignee.select().where(
        (StepAssignee.step == step) & (StepAssignee.round == step.round)).order_by(StepAssignee.id)]


def signatures(step: Step, decisions=COMPLETING) -> list[Signature]:
    """Return this round's signatures of the step with the given decisions, oldest first."""
    return list(Signature.select().where(
        (Signature.step == step) & (Signature.round == step.round)
        & Signature.decision.in_(decisions)).order_by(Signature.id))


def members(permit: Permit, role: str) -> list[Person]:
    return [m.person for m in PermitMember.select().where(
        (PermitMember.permit == permit) & (PermitMember.role == role)).order_by(PermitMember.id)]


def crew_and_guardians(permit: Permit) -> list[Person]:
    return members(permit, "作业人") + members(permit, "监护人")


def involved(permit: Permit) -> set[int]:
    """Return the ids of everyone with a part in the permit: applicant, crew, guardians, signers."""
    ids = {permit.applicant_id} | {m.person_id for m in permit.members}
    ids |= {a.person_id for a in StepAssignee.select(StepAssignee.person).join(Step)
            .where(Step.permit == permit)}
    return ids


def approvers(permit: Permit) -> list[Person]:
    """Return everyone who approved an approval step of the permit."""
    rows = (Signature.select().join(Step).where(
        (Signature.permit == permit) & (Step.phase == "approve") & (Signature.decision == "approve")))
    return list({s.person_id: s.person for s in rows}.values())


def activate(ctx: Ctx, step: Step) -> None:
    """Open step for signing: resolve who signs, give them the card, move the permit's state."""
    definition = ctx.template.step(step.key)
    people = assign.resolve(definition, ctx.permit)
    if not people:
        raise InvalidPermit(f"“{step.name}”无人可签：组织架构中没有{'/'.join(definition.roles)}")
    step.state, step.round = "active", step.round + 1
    step.activated_at = ctx.now
    limit = timedelta(minutes=definition.limit_minutes * settings.current().step_limit_factor)
    step.due_at = step.escalate_at = ctx.now + limit
    step.remind_at = ctx.now + limit * settings.current().remind_fraction
    step.escalation_level = 0
    step.completed_at = None
    step.save()
    for person in people:
        StepAssignee.create(step=step, person=person, round=step.round)
    permit = ctx.permit
    states.move(permit, ctx.command, PHASE_STATE[step.phase])
    if step.phase == "start":
        permit.issued_at = permit.issued_at or ctx.now
    text = f"请办理：{permit.no} {ctx.template.name} · {step.name}"
    ctx.tell(people, "act", text, step.key)


def complete(ctx: Ctx, step: Step) -> None:
    """Mark step done and open the next one (or close the permit after the last)."""
    step.state, step.completed_at = "done", ctx.now
    step.remind_at = step.escalate_at = None
    step.save()
    phase_done = {"start": "started_at", "work": "completed_at"}
    if step.phase in phase_done:
        setattr(ctx.permit, phase_done[step.phase], ctx.now)
    following = [s for s in steps(ctx.permit) if s.seq > step.seq and s.state == "pending"]
    if following:
        activate(ctx, following[0])
    else:
        states.move(ctx.permit, ctx.command, CLOSED)
        ctx.permit.closed_at = ctx.now


def void_open_steps(permit: Permit) -> None:
    """Take the active step off everyone's list (the permit ended or went back to draft)."""
    Step.update(state="void", remind_at=None, escalate_at=None).where(
        (Step.permit == permit) & (Step.state == "active")).execute()


def outcome_text(step: Step, signature: Signature) -> str:
    at = local(signature.signed_at, settings.current().plant_tz)
    return (f"{step.name}：已由 {signature.person.name} 于 {at:%m-%d %H:%M} "
            f"{DECISION_LABELS.get(signature.decision, signature.decision)}")


def record_signature(ctx: Ctx, step: Step, *, decision: str, comment: str = "",
                     evidence: dict | None = None, channel: str = "cli",
                     settles: bool = True) -> Signature:
    """Store ctx.by's decision on step; the signer's card, and everyone's once settled, show it.

    In 会签 a signature that leaves others still to sign tells them nothing: their cards stay open.
    """
    signature = Signature.create(permit=ctx.permit, step=step, round=step.round, person=ctx.by,
                                 decision=decision, comment=comment, evidence=evidence or {},
                                 channel=channel, signed_at=ctx.now)
    ctx.signed.append(signature)
    told = assignees(step) if settles else []
    ctx.tell([ctx.by] + [p for p in told if p.id != ctx.by.id], "outcome",
             outcome_text(step, signature), step.key)
    ctx.data = {"step": step.key, "round": step.round, "decision": decision, "comment": comment,
                "channel": channel, **({"evidence": evidence} if evidence else {})}
    return signature


def record_refusal(permit_no: str | None, *, by: Person | None, command: str, reason: str,
                   channel: str, tell: str | None = None) -> None:
    """Audit a refused command and tell the person why, in one transaction of its own."""
    with transaction():
        event = audit.append(permit_no=permit_no, actor=actor(by), action="refused",
                             data={"command": command, "reason": reason, "channel": channel},
                             at=utcnow())
        if by is not None and permit_no:
            queue(permit_no, event.seq, [Notification(by.id, "info", tell or f"未办理：{reason}")])
