"""Commands of a permit at the work site: gas readings, suspension, acceptance, change, expiry."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import settings
from models import Attachment, GasReading, Person, PersonRole, Step, utcnow
from models.permit import Permit

from . import assign, changes as changes_, gas, gates, grading, hooks, machine, onsite, running, states
from .errors import GateNotMet, InvalidPermit, InvalidTransition, NotAuthorized, WorkflowError
from .machine import Ctx, Outcome, record_signature, run
from .rules import UNGRADED
from .states import COMMANDS, IN_PROGRESS, SUSPENDED
from .suspension import stop_work, suspend  # noqa: F401  (work.suspend is where callers find it)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _gas_testers(ctx: Ctx) -> set[int]:
    step = next((d for d in ctx.template.steps if d.kind == "gas"), None)
    if step is not None:
        return {p.id for p in assign.resolve(step, ctx.permit)}
    return {p.id for p in Person.select().join(PersonRole).where(PersonRole.role == "气体检测人")}


def _require_tools(ctx: Ctx, by: Person | None) -> None:
    """A person's reading counts only with the tools the gas step names (a calibrated detector) in hand."""
    step = next((d for d in ctx.template.steps if d.kind == "gas"), None)
    if by is None or step is None or not step.gates.tools:
        return   # a registered detector reports on its own: its calibration is the sensor registry's
    found = hooks.problems("tools", ctx.permit, kinds=step.gates.tools, person=by, at=ctx.now)
    if found:
        raise GateNotMet("；".join(found))


def record_gas(permit_no: str, *, by: Person | None, values: dict, taken_at: datetime | None = None,
               device: str | None = None, location_note: str = "", channel: str = "cli",
               now: datetime | None = None) -> Outcome:
    """Store a gas reading; a pass completes the gas step, a fail suspends running work."""
    def body(ctx: Ctx) -> None:
        if by is None and not device:
            raise NotAuthorized("气体检测数据须由气体检测人或登记的检测仪上报")
        if by is not None and by.id not in _gas_testers(ctx):
            raise NotAuthorized(f"{by.name}不是本作业票的气体检测人")
        _require_tools(ctx, by)
        taken = taken_at or ctx.now
        if taken > ctx.now + timedelta(minutes=1):
            raise InvalidPermit("检测时间不能晚于当前时间")
        t = ctx.template
        try:
            verdict = gas.evaluate(values, medium=ctx.permit.medium, limits=gas.limits_from(t.gas.limits),
                                   required=t.gas.required, oxygen_range=t.gas.oxygen_range)
        except ValueError as exc:
            raise InvalidPermit(str(exc)) from None
        upper = {k.upper(): v for k, v in values.items()}
        reading = GasReading.create(
            permit=ctx.permit, device=device, tester=by, taken_at=taken, recorded_at=ctx.now,
            o2=upper.get("O2"), ex=upper.get("EX"), h2s=upper.get("H2S"), co=upper.get("CO"), others=gas.others(upper),
            location_note=location_note, passed=verdict.passed,
            verdict={**verdict.as_dict(), "text": verdict.text()})
        ctx.bump, ctx.detail = False, verdict.text()
        facts = {"reading": reading.id, "passed": verdict.passed, "values": upper,
                 "taken_at": taken.isoformat(), "device": device}
        ctx.data = facts
        # A reading past a detector alarm level alarms like a detector; its card says stop.
        stopping = hooks.problems("gas_reading", ctx.permit, values=upper, passed=verdict.passed,
                                  at=ctx.now, reading_at=taken)
        step = machine.active_step(ctx.permit)
        if (verdict.passed and by is not None and step is not None and step.phase == "gas"
                and by.id in {p.id for p in machine.assignees(step)}):
            record_signature(ctx, step, decision="gas", evidence={"reading": reading.id},
                             channel=channel)
            ctx.data = {**facts, **ctx.data}
            machine.complete(ctx, step)
            ctx.bump = True
        elif (stopping or not verdict.passed) and ctx.permit.state == IN_PROGRESS:
            reason = stopping[0] if stopping else f"气体检测不合格：{verdict.text()}"
            stop_work(ctx, reason, announce=not stopping)
        elif not verdict.passed:
            ctx.tell([ctx.permit.applicant] + machine.members(ctx.permit, "监护人"), "info",
                     f"{ctx.permit.no} 气体检测不合格：{verdict.text()}")
    return run(permit_no, "record_gas", body, by=by, now=now)


def resume(permit_no: str, *, by: Person, now: datetime | None = None) -> Outcome:
    """Resume suspended work on the guardian's word, after a fresh gas test where one is due."""
    def body(ctx: Ctx) -> None:
        permit, t = ctx.permit, ctx.template
        if by.id not in {p.id for p in machine.members(permit, "监护人")}:
            raise NotAuthorized("恢复作业须由本作业票的监护人确认")
        if onsite.last_mark(permit, by, ctx.now) == "out":
            raise GateNotMet("您已离开现场，请回到现场扫码签到后再恢复作业")
        held = hooks.problems("resume", permit, at=ctx.now)   # e.g. the area's emergency is still open
        if held:
            raise GateNotMet("；".join(held))
        gates.window(permit, t, ctx.now)
        if t.gas.fresh_minutes:
            paused = (ctx.now - permit.suspended_at).total_seconds() / 60
            limit = t.gas.retest_minutes.get(permit.grade or UNGRADED, 30)
            tz = settings.current().plant_tz
            new_day = grading.local(permit.suspended_at, tz).date() != grading.local(ctx.now, tz).date()
            # Work held for the new working day, or running since yesterday, is tested again today.
            if paused > limit or new_day or not running.tested_today(permit, ctx.now):
                gates.gas_fresh(permit, t, ctx.now, since=permit.suspended_at)
            else:
                newest = gates.latest_readings(permit, ctx.now)[:1]
                if newest and not newest[0].passed:
                    gates.gas_fresh(permit, t, ctx.now, since=permit.suspended_at)
        start = next(d for d in t.steps if d.phase == "start")
        if start.gates.monitoring and (permit.grade or UNGRADED) in t.gas.continuous:
            # Work that may only run monitored may only resume monitored (a detector gone
            # offline suspended it, and stays offline until it reports again).
            found = hooks.problems("monitoring", permit, at=ctx.now)
            if found:
                raise GateNotMet("；".join(found))
        ctx.data = {"paused_minutes": round((ctx.now - permit.suspended_at).total_seconds() / 60)}
        states.move(permit, "resume")
        permit.suspended_at, permit.retest_remind_at = None, None
        ctx.tell(machine.crew_and_guardians(permit), "info", f"{permit.no} 恢复作业")
    return run(permit_no, "resume", body, by=by, now=now)


def reject_acceptance(permit_no: str, *, by: Person, reason: str, deadline: datetime,
                      now: datetime | None = None) -> Outcome:
    """Refuse acceptance (验收不通过): the crew rectifies by the deadline, then acceptance repeats."""
    def body(ctx: Ctx) -> None:
        step = machine.active_step(ctx.permit)
        d = ctx.template.step(step.key)
        if "rectify" not in d.actions:
            raise InvalidTransition(f"“{step.name}”不能退回整改")
        if by.id not in {p.id for p in machine.assignees(step)}:
            raise NotAuthorized(f"{by.name}不是“{step.name}”的签字人")
        if not reason.strip() or deadline <= ctx.now:
            raise InvalidPermit("请填写整改要求和晚于现在的整改期限")
        record_signature(ctx, step, decision="rectify", comment=reason,
                         evidence={"deadline": deadline.isoformat()})
        step.state, step.remind_at, step.escalate_at = "pending", None, None
        step.save()
        states.move(ctx.permit, "reject_acceptance")
        ctx.permit.rectify_deadline = deadline
        ctx.permit.rectify_chase_at, ctx.permit.rectify_escalations = deadline, 0
        text = (f"{ctx.permit.no} 验收不通过：{reason}。请于 "
                f"{grading.local(deadline, settings.current().plant_tz):%m-%d %H:%M} 前整改")
        ctx.tell(machine.crew_and_guardians(ctx.permit) + [ctx.permit.applicant], "info", text)
    return run(permit_no, "reject_acceptance", body, by=by, now=now)


def rectified(permit_no: str, *, by: Person, note: str = "", now: datetime | None = None) -> Outcome:
    """Report the rectification done; acceptance opens again."""
    def body(ctx: Ctx) -> None:
        allowed = {p.id for p in machine.crew_and_guardians(ctx.permit)} | {ctx.permit.applicant_id}
        if by.id not in allowed:
            raise NotAuthorized("整改完成须由作业人、监护人或申请人确认")
        step = Step.get((Step.permit == ctx.permit) & (Step.phase == "accept"))
        ctx.permit.rectify_deadline = ctx.permit.rectify_chase_at = None
        ctx.data = {"note": note}
        machine.activate(ctx, step)
    return run(permit_no, "rectified", body, by=by, now=now)


def request_change(permit_no: str, *, by: Person, changes: dict, reason: str,
                   now: datetime | None = None) -> Outcome:
    """Ask to change time, people or measures of an issued permit; it stays as it is until approved."""
    return changes_.request(permit_no, by=by, changes=changes, reason=reason, now=now)


def extend(permit_no: str, *, by: Person, new_end: datetime, reason: str,
           now: datetime | None = None) -> Outcome:
    """Ask for more time (延期): a change of the planned end; refused, the original end still holds."""
    return request_change(permit_no, by=by, changes={"planned_end": new_end}, reason=reason, now=now)


def expire(permit_no: str, *, now: datetime | None = None) -> Outcome:
    """End a permit that has passed its validity; anyone still working is told to stop."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        if ctx.now < permit.planned_end:
            raise InvalidTransition(f"作业票 {permit.no} 尚未到期")
        working = permit.state in (IN_PROGRESS, SUSPENDED)
        machine.void_open_steps(permit)
        states.move(permit, "expire")
        text = f"{permit.no} 已超过有效期，作业票失效" + ("，立即停止作业" if working else "")
        ctx.tell(machine.crew_and_guardians(permit), "stop" if working else "info", text)
        # Work still running past its end is flagged to the unit head too.
        heads = assign.org_role("基层单位负责人", "unit", permit) if working else []
        ctx.tell([permit.applicant] + heads, "info", text)
    return run(permit_no, "expire", body, by=None, now=now)


def expire_due(now: datetime | None = None) -> list[Outcome]:
    """Expire every permit whose validity has run out (an indexed scan of due permits only)."""
    now = now or utcnow()
    due = (Permit.select(Permit.no).where(Permit.state.in_(list(COMMANDS["expire"]))
                                         & (Permit.planned_end <= now)))
    done = []
    for (no,) in due.tuples():
        try:
            done.append(expire(no, now=now))
        except WorkflowError:
            continue  # changed by someone else since the scan: it is no longer due
    return done


def attach(permit_no: str, *, by: Person, kind: str, data: bytes, filename: str,
           step_key: str | None = None, caption: str = "", now: datetime | None = None) -> Outcome:
    """Store a photo or file on the permit, on disk under the instance (or its enterprise's) folder, by its hash.

    caption, the words sent with a photo, is kept in the audit event beside it.
    """
    def body(ctx: Ctx) -> None:
        if by.id not in machine.involved(ctx.permit):
            raise NotAuthorized(f"{by.name}与本作业票无关，不能上传附件")
        if not data or len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidPermit("附件为空或超过 20 MB")
        digest = hashlib.sha256(data).hexdigest()
        suffix = Path(filename).suffix.lower()[:10]
        from park.enterprises import media_folder
        relative = Path("attachments") / digest[:2] / f"{digest}{suffix}"
        target = media_folder() / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():  # content-addressed: the same bytes are stored once
            target.write_bytes(data)
        step = Step.get_or_none((Step.permit == ctx.permit) & (Step.key == step_key)) if step_key else None
        row = Attachment.create(permit=ctx.permit, step=step, kind=kind.strip(), filename=filename,
                                sha256=digest, size=len(data), path=str(relative),
                                uploaded_by=by, created_at=ctx.now)
        ctx.bump = False
        ctx.data = {"attachment": row.id, "kind": row.kind, "sha256": digest}
        if caption:
            ctx.data["caption"] = caption[:500]
    return run(permit_no, "attach", body, by=by, now=now)
