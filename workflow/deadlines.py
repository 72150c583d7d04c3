"""Steps that wait too long: remind their signers, then escalate up the template's chain.

Each timer lives on the step (remind_at, escalate_at) and is cleared or moved on by the command
that acts on it, in that command's transaction: a scan killed half-way leaves the rest due, a
second scan finds nothing left to do, and a clock stepped back finds every timer still ahead.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

import settings
from models import Person, Step, StepAssignee
from models.permit import Permit

from . import assign, machine, template as templates
from .clock import local
from .errors import InvalidTransition, WorkflowError
from .machine import Ctx, Outcome, run
from .rules import UNGRADED

BATCH = 500


class NothingDue(WorkflowError):
    """The timer was already acted on (or moved) since the scan found it."""


def _quiet(now: datetime) -> bool:
    span = settings.current().quiet_hours
    if span is None:
        return False
    begin, end = (time.fromisoformat(t) for t in span)
    at = local(now, settings.current().plant_tz).time()
    return (begin <= at or at < end) if end <= begin else (begin <= at < end)


def _due(column, now: datetime) -> list[tuple[str, int]]:
    """Return (permit no, step id) of active steps whose timer has come, oldest first."""
    rows = (Step.select(Permit.no, Step.id).join(Permit)
            .where((Step.state == "active") & (column <= now)).order_by(column).limit(BATCH))
    return list(rows.tuples())


def _each(items, act) -> list[Outcome]:
    done = []
    for item in items:
        try:
            done.append(act(*item))
        except NothingDue:
            continue
        except InvalidTransition:
            # A suspended permit's step timer waits for the resume: an emergency suspends many permits
            # at once, and one of them must not stop the scan before the alarms' re-sends run.
            continue
    return done


def _waited(step: Step, now: datetime) -> str:
    minutes = int((now - step.activated_at).total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分" if minutes >= 60 else f"{minutes} 分钟"


def _unsigned(step: Step) -> list[Person]:
    signed = {s.person_id for s in machine.signatures(step)}
    return [p for p in machine.assignees(step) if p.id not in signed]


def remind(permit_no: str, step_id: int, *, now: datetime) -> Outcome:
    """Send the step's unsigned signers a fresh card saying how long it has waited."""
    def body(ctx: Ctx) -> None:
        step = Step.get_by_id(step_id)
        if step.state != "active" or step.remind_at is None or step.remind_at > ctx.now:
            raise NothingDue("no reminder due")
        step.remind_at = None
        step.save()
        waited = _waited(step, ctx.now)
        ctx.tell(_unsigned(step), "act", f"催办：{ctx.permit.no} {step.name} 已等待 {waited}", step.key)
        ctx.bump, ctx.data = False, {"step": step.key, "round": step.round, "waited": waited}
    return run(permit_no, "remind", body, by=None, now=now)


def remind_due(now: datetime) -> list[Outcome]:
    """Remind every step that is due, except in the plant's quiet hours (they wait till morning)."""
    if _quiet(now):
        return []
    return _each(_due(Step.remind_at, now), lambda no, sid: remind(no, sid, now=now))


def escalate(permit_no: str, step_id: int, *, now: datetime) -> Outcome:
    """Hand an overdue step to the next role in its chain; the first signers keep their right."""
    def body(ctx: Ctx) -> None:
        step = Step.get_by_id(step_id)
        if step.state != "active" or step.escalate_at is None or step.escalate_at > ctx.now:
            raise NothingDue("no escalation due")
        d = ctx.template.step(step.key)
        have = {p.id for p in machine.assignees(step)} | {ctx.permit.applicant_id}
        level, people, role = step.escalation_level, [], None
        while level < len(d.escalate) and not people:
            role = d.escalate[level]
            people = [p for p in assign.org_role(role, "nearest", ctx.permit) if p.id not in have]
            level += 1
        limit = timedelta(minutes=d.limit_minutes * settings.current().step_limit_factor)
        step.escalation_level = level
        step.escalate_at = ctx.now + limit if level < len(d.escalate) else None
        step.save()
        ctx.bump = False
        ctx.data = {"step": step.key, "round": step.round, "level": level, "role": role,
                    "to": [p.id for p in people]}
        if not people:
            return  # the chain is used up: the step stays with the people who have it
        for person in people:
            StepAssignee.create(step=step, person=person, round=step.round, reason="escalated")
        waited = _waited(step, ctx.now)
        ctx.tell(people, "act", f"超时上报：{ctx.permit.no} {step.name} 已等待 {waited}，请督办或签字", step.key)
        names = "、".join(p.name for p in people)
        ctx.tell([ctx.permit.applicant], "info", f"{ctx.permit.no} {step.name} 超时，已上报{role} {names}")
    return run(permit_no, "escalate", body, by=None, now=now)


def escalate_due(now: datetime) -> list[Outcome]:
    """Escalate every overdue step (quiet hours do not apply: these are safety steps)."""
    return _each(_due(Step.escalate_at, now), lambda no, sid: escalate(no, sid, now=now))


def retest(permit_no: str, *, now: datetime) -> Outcome:
    """Ask the gas tester for a re-test: the suspension has outlasted the re-test interval."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        if permit.retest_remind_at is None or permit.retest_remind_at > ctx.now:
            raise NothingDue("no re-test reminder due")
        permit.retest_remind_at = None
        gas = next((s for s in ctx.template.steps if s.kind == "gas"), None)
        testers = assign.resolve(gas, permit) if gas else []
        text = f"{permit.no} 暂停已超过复测间隔，恢复作业前请到现场重新进行气体分析"
        ctx.tell(testers + machine.members(permit, "监护人"), "info", text)
        ctx.bump, ctx.data = False, {"testers": [p.id for p in testers]}
    return run(permit_no, "retest", body, by=None, now=now)


def retest_due(now: datetime) -> list[Outcome]:
    """Send every re-test reminder that is due."""
    rows = (Permit.select(Permit.no).where(Permit.retest_remind_at <= now)
            .order_by(Permit.retest_remind_at).limit(BATCH))
    return _each([(no,) for (no,) in rows.tuples()], lambda no: retest(no, now=now))


def retest_interval(permit: Permit) -> timedelta | None:
    """Return how long a suspension may last before the gas must be tested again (None: no gas rule)."""
    t = templates.get(permit.work_type)
    if not t.gas.fresh_minutes:
        return None
    return timedelta(minutes=t.gas.retest_minutes.get(permit.grade or UNGRADED, 30))
