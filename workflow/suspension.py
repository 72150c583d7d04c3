"""Stopping running work (暂停): by a person, by a failed gas reading, by a guardian leaving the site."""
from __future__ import annotations

from datetime import datetime

from models import Person

from . import machine, states
from .deadlines import retest_interval
from .errors import NotAuthorized
from .machine import Ctx, Outcome, run
from .states import SUSPENDED

# Anyone holding one of these may stop any permit's work, involved in it or not.
SAFETY_ROLES = {"安全员", "安全管理部门负责人", "基层单位负责人", "主管领导"}


def stop_work(ctx: Ctx, reason: str, *, announce: bool = True) -> None:
    """Suspend the permit inside ctx's command and, unless announce is off, tell everyone to stop."""
    permit = ctx.permit
    states.move(permit, ctx.command, SUSPENDED)
    permit.suspended_at = ctx.now
    interval = retest_interval(permit)
    permit.retest_remind_at = ctx.now + interval if interval else None
    ctx.bump = True
    ctx.data = {**ctx.data, "reason": reason}
    if not announce:
        return
    ctx.tell(machine.crew_and_guardians(permit), "stop", f"立即停止作业并撤离：{permit.no} {reason}")
    ctx.tell([permit.applicant] + machine.approvers(permit), "info", f"{permit.no} 已暂停：{reason}")


def suspend(permit_no: str, *, by: Person | None, reason: str, now: datetime | None = None,
            announce: bool = True) -> Outcome:
    """Stop running work (暂停); by None means the system (a gas alarm, a guardian leaving).

    announce=False leaves telling people to the caller: a detector alarm's own card says stop.
    """
    def body(ctx: Ctx) -> None:
        if by is not None and by.id not in machine.involved(ctx.permit) \
                and not SAFETY_ROLES & by.role_names():
            raise NotAuthorized(f"{by.name}与本作业票无关，不能暂停作业")
        stop_work(ctx, reason, announce=announce)
    return run(permit_no, "suspend", body, by=by, now=now)
