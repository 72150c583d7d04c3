"""A permit whose acceptance failed: its rectification deadline is chased like an overdue finding.

At the deadline the crew, guardians and applicant are reminded; then, each interval, the heads of
the permit's unit and of each department above it hear of it, until the chain is used up.
"""
from __future__ import annotations

from datetime import datetime

from models.permit import Permit
from workflow import machine
from workflow.deadlines import NothingDue
from workflow.machine import Ctx, run

from . import notify
from .deadlines import BATCH, _interval
from .findings import when


def chase(permit_no: str, *, now: datetime) -> None:
    """Remind (first) or escalate (after) one permit whose rectification is overdue."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        if permit.rectify_chase_at is None or permit.rectify_chase_at > ctx.now:
            raise NothingDue("no rectification chase due")
        level = permit.rectify_escalations
        deadline = when(permit.rectify_deadline)
        if level == 0:
            people = machine.crew_and_guardians(permit) + [permit.applicant]
            ctx.tell(people, "info", f"催办：{permit.no} 验收不通过后的整改期限 {deadline} 已过，"
                                     f"整改后请发送“整改完成 {permit.no}”")
        levels = [[p for p in heads if p.id != permit.applicant_id] for heads in notify.chain(permit.unit)]
        levels = [heads for heads in levels if heads]
        if level > 0 and level - 1 < len(levels):
            ctx.tell(levels[level - 1], "info", f"超期上报：{permit.no}（{permit.location}）验收不通过后的整改"
                                                f"期限 {deadline} 已过，尚未整改完成，请督办")
        permit.rectify_escalations = level + 1
        permit.rectify_chase_at = ctx.now + _interval() if level < len(levels) else None
        ctx.bump, ctx.data = False, {"level": level, "deadline": permit.rectify_deadline.isoformat()
                                     if permit.rectify_deadline else None}
    run(permit_no, "chase_rectification", body, by=None, now=now)


def chase_due(now: datetime) -> int:
    """Chase every permit whose rectification timer has come; return how many were acted on."""
    rows = (Permit.select(Permit.no).where((Permit.rectify_chase_at <= now) & (Permit.state == "rectifying"))
            .order_by(Permit.rectify_chase_at).limit(BATCH))
    done = 0
    for (no,) in list(rows.tuples()):
        try:
            chase(no, now=now)
            done += 1
        except NothingDue:
            continue
    return done
