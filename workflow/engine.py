"""The permit engine's commands. Each runs in one transaction and returns an Outcome."""
from __future__ import annotations

from datetime import datetime

from models import Person, Step

from . import drafts, gates, hooks, machine, simops, states
from .assign import resolve
from .errors import (AlreadySigned, GateNotMet, InvalidPermit, InvalidTransition, NotAuthorized,
                     StaleVersion)
from .machine import Ctx, Outcome, record_signature, run
from .onsite import check_in, check_out  # noqa: F401  (engine.check_in is the command's home)
from .states import COMMAND_LABELS
from .template import COORDINATE, StepDef


def _require_applicant(ctx: Ctx) -> None:
    if ctx.by is None or ctx.by.id != ctx.permit.applicant_id:
        raise NotAuthorized(f"只有申请人 {ctx.permit.applicant.name} 可以{COMMAND_LABELS[ctx.command]}")


def submit(permit_no: str, *, by: Person, now: datetime | None = None) -> Outcome:
    """Check the draft against every rule, fix its grade and open the first step."""
    def body(ctx: Ctx) -> None:
        _require_applicant(ctx)
        held = hooks.problems("hazard_hold", ctx.permit, at=ctx.now)   # an open 重大 finding holds its area
        if held:
            raise GateNotMet("；".join(held))
        grade, reasons = drafts.check_content(ctx.template, ctx.permit, ctx.now)
        ctx.permit.grade = grade
        ctx.permit.attributes = {**ctx.permit.attributes, "grade_reasons": reasons}
        ctx.permit.submitted_at = ctx.now
        drafts.lay_out_steps(ctx.template, ctx.permit, grade)
        overlap = simops.on_submit(ctx)
        laid = machine.steps(ctx.permit)
        for step in laid:  # refuse now rather than strand the permit at a step nobody can sign
            if step.state == "pending" and not _resolvable(ctx, step):
                d = ctx.template.step(step.key)
                raise InvalidPermit(f"“{step.name}”无人可签：组织架构中没有可用的{'/'.join(d.roles)}")
        machine.activate(ctx, next(s for s in laid if s.state == "pending"))
        ctx.data = {"grade": grade, "grade_reasons": reasons, **({"simops": overlap} if overlap else {})}
        ctx.detail = f"已提交，级别：{grade or '—'}" + (f"（因{'、'.join(reasons)}升级）" if reasons else "")
    return run(permit_no, "submit", body, by=by, now=now)


def _resolvable(ctx: Ctx, step: Step) -> bool:
    return bool(resolve(ctx.template.step(step.key), ctx.permit))


def _step_for_signing(ctx: Ctx, step_key: str) -> tuple[Step, StepDef]:
    step = Step.get_or_none((Step.permit == ctx.permit) & (Step.key == step_key))
    if step is None:
        raise InvalidTransition(f"作业票 {ctx.permit.no} 没有“{step_key}”步骤")
    if step.state != "active":
        done = machine.signatures(step, decisions=("approve", "confirm", "gas", "reject", "rectify"))
        if step.state == "done" and done:
            raise AlreadySigned(machine.outcome_text(step, done[-1]))
        current = machine.active_step(ctx.permit)
        raise InvalidTransition(f"“{step.name}”现在不能签字，当前步骤：{current.name if current else '无'}")
    return step, ctx.template.step(step_key)


def _require_assignee(ctx: Ctx, step: Step, d: StepDef) -> None:
    if d.phase == "approve" and ctx.by.id == ctx.permit.applicant_id:
        raise NotAuthorized("申请人不能审批自己的作业票")
    people = machine.assignees(step)
    if ctx.by.id not in {p.id for p in people}:
        names = "、".join(p.name for p in people)
        raise NotAuthorized(f"{ctx.by.name}不是“{step.name}”的签字人，应由 {names} 签字")


def sign(permit_no: str, step_key: str, *, by: Person, decision: str | None = None,
         comment: str = "", ticks: list[str] | None = None, evidence: dict | None = None,
         expected_version: int | None = None, expected_round: int | None = None,
         channel: str = "cli", now: datetime | None = None) -> Outcome:
    """Sign the active step (同意 / 确认 / 提交勾选); the step completes per its sign mode.

    expected_round comes from a card: a card of an earlier round of the step (it was sent back or
    changed since) is stale and refused.
    """
    def body(ctx: Ctx) -> None:
        step, d = _step_for_signing(ctx, step_key)
        if d.kind == "gas":
            raise InvalidTransition("气体分析步骤由气体检测人录入合格的检测数据完成")
        chosen = decision or ("approve" if d.kind == "approve" else "confirm")
        if chosen not in d.actions or chosen not in ("approve", "confirm"):
            raise InvalidTransition(f"“{step.name}”不能“{machine.DECISION_LABELS.get(chosen, chosen)}”")
        _require_assignee(ctx, step, d)
        if any(s.person_id == ctx.by.id for s in machine.signatures(step)):
            raise AlreadySigned(f"您已在“{step.name}”签过字")
        # Only now: a card made stale by someone else settling the step says who signed it.
        machine.check_version(ctx.permit, expected_version)
        if expected_round is not None and expected_round != step.round:
            raise StaleVersion(f"“{step.name}”已重新发起，这张卡片已过期，请使用最新卡片")
        if d.kind == "checklist":
            missing = [item for item in d.checklist if item not in set(ticks or ())]
            if missing:
                raise GateNotMet(f"以下项目未勾选：{'；'.join(missing)}")
        gates.check(d, ctx.permit, ctx.template, ctx.by, ctx.now)
        overlap = {}
        if d.phase == "approve" and step.key != COORDINATE:
            rerouted, overlap = simops.on_approve(ctx, step)
            if rerouted:
                return
        proof = {**(evidence or {}), **({"ticks": list(ticks)} if ticks else {})}
        if d.phase == "approve" and not d.onsite:
            # The template's reason for approving off site goes on the signature it excused.
            proof["onsite_waived"] = d.onsite_waiver
        signed = {s.person_id for s in machine.signatures(step)} | {ctx.by.id}
        settles = d.mode == "any" or signed >= {p.id for p in machine.assignees(step)}
        record_signature(ctx, step, decision=chosen, comment=comment, evidence=proof,
                         channel=channel, settles=settles)
        if overlap:
            ctx.data["simops"] = overlap
        if settles:
            machine.complete(ctx, step)
    return run(permit_no, "sign", body, by=by, now=now)


def _by_phase(permit_no: str, phase: str, **kwargs) -> Outcome:
    permit = machine.load(permit_no)
    step = Step.get_or_none((Step.permit == permit) & (Step.phase == phase))
    return sign(permit_no, step.key if step else phase, **kwargs)


def start(permit_no: str, **kwargs) -> Outcome:
    """Confirm the on-site start (作业开始); the start step's gates apply."""
    return _by_phase(permit_no, "start", **kwargs)


def complete(permit_no: str, **kwargs) -> Outcome:
    """Confirm the work is complete (完工)."""
    return _by_phase(permit_no, "work", **kwargs)


def accept(permit_no: str, **kwargs) -> Outcome:
    """Accept the finished work (验收通过)."""
    return _by_phase(permit_no, "accept", **kwargs)


def close(permit_no: str, **kwargs) -> Outcome:
    """Close the permit (关闭)."""
    return _by_phase(permit_no, "close", **kwargs)


def _refuse_step(permit_no: str, step_key: str, action: str, *, by: Person, reason: str,
                 channel: str, now: datetime | None) -> Outcome:
    def body(ctx: Ctx) -> None:
        if not reason.strip():
            raise InvalidPermit("请填写理由")
        step, d = _step_for_signing(ctx, step_key)
        if action not in d.actions:
            raise InvalidTransition(f"“{step.name}”不能{machine.DECISION_LABELS[action]}")
        _require_assignee(ctx, step, d)
        if action == "return" and ctx.permit.issued_at:
            # A draft can be edited freely; an issued permit never goes back to being one.
            raise InvalidTransition("作业票已签发，不能退回修改")
        record_signature(ctx, step, decision=action, comment=reason, channel=channel)
        machine.void_open_steps(ctx.permit)
        states.move(ctx.permit, ctx.command)
        if action == "reject":
            text = f"作业票 {ctx.permit.no} 被 {ctx.by.name} 驳回：{reason}"
        else:
            Step.update(state="pending").where(Step.permit == ctx.permit).execute()
            text = f"作业票 {ctx.permit.no} 被 {ctx.by.name} 退回修改：{reason}"
        ctx.tell([ctx.permit.applicant], "info", text)
    return run(permit_no, action if action == "reject" else "return", body, by=by, now=now)


def reject(permit_no: str, step_key: str, *, by: Person, reason: str, channel: str = "cli",
           now: datetime | None = None) -> Outcome:
    """Reject the permit at an approval step (驳回); the permit ends."""
    return _refuse_step(permit_no, step_key, "reject", by=by, reason=reason, channel=channel,
                        now=now)


def return_for_revision(permit_no: str, step_key: str, *, by: Person, reason: str,
                        channel: str = "cli", now: datetime | None = None) -> Outcome:
    """Send the permit back to the applicant as a draft (退回修改); a resubmit starts over."""
    return _refuse_step(permit_no, step_key, "return", by=by, reason=reason, channel=channel,
                        now=now)


def edit_draft(permit_no: str, *, by: Person, now: datetime | None = None, crew=None,
               guardians=None, **fields) -> Outcome:
    """Change a draft's content; an issued permit is never edited (use request_change)."""
    unknown = set(fields) - set(drafts.CONTENT_FIELDS)
    if unknown:
        raise InvalidPermit(f"不能修改：{'、'.join(sorted(unknown))}")

    def body(ctx: Ctx) -> None:
        _require_applicant(ctx)
        if "attributes" in fields:
            fields["attributes"] = {**ctx.permit.attributes,
                                    **drafts.coerce_attributes(ctx.template, fields["attributes"])}
        for key, value in fields.items():
            setattr(ctx.permit, key, value)
        if crew is not None:
            drafts.set_members(ctx.permit, "作业人", crew)
        if guardians is not None:
            drafts.set_members(ctx.permit, "监护人", guardians)
        ctx.data = {"fields": sorted(fields) + (["crew"] if crew is not None else [])
                    + (["guardians"] if guardians is not None else [])}
    return run(permit_no, "edit", body, by=by, now=now)


def cancel(permit_no: str, *, by: Person, reason: str, now: datetime | None = None) -> Outcome:
    """Withdraw a permit whose work is not running: not yet started, or suspended for good (取消)."""
    def body(ctx: Ctx) -> None:
        _require_applicant(ctx)
        machine.void_open_steps(ctx.permit)
        states.move(ctx.permit, "cancel")
        ctx.data = {"reason": reason}
        ctx.tell(machine.crew_and_guardians(ctx.permit), "info", f"作业票 {ctx.permit.no} 已取消：{reason}")
    return run(permit_no, "cancel", body, by=by, now=now)

