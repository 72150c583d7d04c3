"""The month's figures for 月度作业许可分析, computed from the tables in keyset pages.

Definitions (also written into the report beside each figure):
- the month's permits: permits ever submitted (a draft returned for revision too) planned to start in
  the month, as in the ledger;
- compliant: every step reached so far was done in template order, none after its time limit or
  escalated, and work started no earlier than the last approval; the rate is over all the month's permits;
- closure cycle: submission to close, in hours, for the month's closed permits;
- alarm response: from the reading to the first 确认收到; in time within ALARM_RESEND_SECONDS, the
  moment the alarm would be re-sent one role higher;
- a permit whose random audit (抽查) failed is not compliant, whenever the audit was done;
- hazards: found and closed in the month; the rectification deadlines that fell in the month and are
  decided (rectified, or past), on time when rectified by the deadline, else overdue, by responsible
  unit; the audits recorded in the month, passed over done; the inspection rounds due in the month and
  decided, on time when submitted by their due time.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import settings
from models import AuditEvent, Signature, Step
from models.hazard import AUDIT_FAILED, AUDIT_PASSED, Finding, PermitAudit
from models.inspection import DONE as ROUND_DONE, Inspection
from models.permit import Permit
from workflow import template as templates
from workflow.rules import UNGRADED

from .hazards import late
from .records import alarm_pages, count_alarms, response_seconds
from .run import PAGE, Run
from .scope import Scope

NO_GRADE = "不分级"
NO_UNIT = "未指派单位"


@dataclass
class StepFigures:
    done: int = 0
    wait_minutes: float = 0.0
    overdue: int = 0
    escalations: int = 0
    escalated: int = 0       # done steps escalated at least once

    @property
    def average_wait(self) -> float | None:
        return round(self.wait_minutes / self.done, 1) if self.done else None


@dataclass
class AlarmFigures:
    raised: int = 0
    acknowledged: int = 0
    in_time: int = 0
    seconds: list[int] = field(default_factory=list)


@dataclass
class UnitFindings:
    found: int = 0
    closed: int = 0
    due: int = 0           # deadlines in the month, decided
    overdue: int = 0


@dataclass
class TypeAudits:
    done: int = 0
    passed: int = 0


@dataclass
class HazardFigures:
    units: dict[str, UnitFindings] = field(default_factory=lambda: defaultdict(UnitFindings))
    audits: dict[str, TypeAudits] = field(default_factory=lambda: defaultdict(TypeAudits))   # by work type
    rounds_due: int = 0
    rounds_on_time: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(u, name) for u in self.units.values())

    @property
    def audits_done(self) -> int:
        return sum(a.done for a in self.audits.values())

    @property
    def audits_passed(self) -> int:
        return sum(a.passed for a in self.audits.values())


@dataclass
class Figures:
    permits: int = 0
    by_type_grade: Counter = field(default_factory=Counter)     # (type name, grade) -> permits
    by_state: Counter = field(default_factory=Counter)
    per_day: Counter = field(default_factory=Counter)           # plant-local date -> permits
    closed_per_day: Counter = field(default_factory=Counter)
    compliant: int = 0
    out_of_order: int = 0
    late: int = 0
    started_early: int = 0
    cycles: list[float] = field(default_factory=list)           # hours, closed permits
    steps: dict[str, StepFigures] = field(default_factory=lambda: defaultdict(StepFigures))
    rejections: int = 0
    returns: int = 0
    rectifications: int = 0
    first_pass: int = 0           # permits never rejected or returned
    started: int = 0
    closed_after_start: int = 0
    suspended: int = 0            # started permits suspended at least once
    suspensions: int = 0
    accepted: int = 0             # permits whose acceptance was decided (passed or refused)
    accepted_first_time: int = 0
    alarms: dict[str, AlarmFigures] = field(default_factory=lambda: defaultdict(AlarmFigures))
    resend_seconds: int = 120
    audit_failed: int = 0         # permits whose random audit failed
    hazards: HazardFigures = field(default_factory=HazardFigures)

    @property
    def steps_done(self) -> int:
        return sum(s.done for s in self.steps.values())

    @property
    def alarm_total(self) -> AlarmFigures:
        total = AlarmFigures()
        for level in self.alarms.values():
            total.raised += level.raised
            total.acknowledged += level.acknowledged
            total.in_time += level.in_time
            total.seconds += level.seconds
        return total


def p90(values: list[float]) -> float | None:
    """Return the 90th percentile by nearest rank, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def compute(scope: Scope, run: Run) -> Figures:
    """Return the figures of the scope's permits and of the period's alarms."""
    figures = Figures(resend_seconds=settings.current().alarm_resend_seconds)
    run.progress.plan(Permit.select().where(scope.permits(run.tz)).count() + count_alarms(scope, run))
    condition, last = scope.permits(run.tz), 0
    while True:
        page = list(Permit.select(Permit.id, Permit.no, Permit.work_type, Permit.grade, Permit.state,
                                  Permit.planned_start, Permit.submitted_at, Permit.started_at, Permit.closed_at)
                    .where(condition & (Permit.id > last)).order_by(Permit.id).limit(PAGE).tuples())
        if not page:
            break
        _count_page(figures, page, run)
        run.progress.advance(len(page))
        last = page[-1][0]
    for alarm_page in alarm_pages(scope, run):
        for alarm in alarm_page:
            level = figures.alarms[alarm.level]
            level.raised += 1
            seconds = response_seconds(alarm)
            if seconds is not None:
                level.acknowledged += 1
                level.seconds.append(seconds)
                level.in_time += seconds <= figures.resend_seconds
    _hazards(figures.hazards, scope, run)
    return figures


def _unit(finding: Finding) -> str:
    return finding.unit.name if finding.unit_id else NO_UNIT


def _hazards(h: HazardFigures, scope: Scope, run: Run) -> None:
    start, end = scope.period.bounds(run.tz)
    for f in Finding.select().where((Finding.found_at >= start) & (Finding.found_at < end)):
        h.units[_unit(f)].found += 1
    for f in Finding.select().where((Finding.closed_at >= start) & (Finding.closed_at < end)):
        h.units[_unit(f)].closed += 1
    for f in Finding.select().where((Finding.deadline >= start) & (Finding.deadline < end)):
        rectified = f.state in ("rectified", "closed")
        if not rectified and run.now <= f.deadline:
            continue   # still within its time: neither on time nor overdue yet
        unit = h.units[_unit(f)]
        unit.due += 1
        unit.overdue += bool(late(f, run))
    for work_type, state in (PermitAudit.select(Permit.work_type, PermitAudit.state).join(Permit)
                             .where((PermitAudit.done_at >= start) & (PermitAudit.done_at < end)).tuples()):
        audits = h.audits[templates.get(work_type).name]
        audits.done += 1
        audits.passed += state == AUDIT_PASSED
    for state, due, done in (Inspection.select(Inspection.state, Inspection.due_at, Inspection.done_at)
                             .where((Inspection.due_at >= start) & (Inspection.due_at < end)).tuples()):
        if state != ROUND_DONE and run.now <= due:
            continue
        h.rounds_due += 1
        h.rounds_on_time += state == ROUND_DONE and done <= due


def _count_page(figures: Figures, page: list[tuple], run: Run) -> None:
    ids = [p[0] for p in page]
    steps: dict[int, list[tuple]] = defaultdict(list)
    for row in (Step.select(Step.permit, Step.key, Step.seq, Step.name, Step.phase, Step.state,
                            Step.activated_at, Step.due_at, Step.completed_at)
                .where(Step.permit.in_(ids)).order_by(Step.permit, Step.seq).tuples()):
        steps[row[0]].append(row)
    decisions: dict[int, Counter] = defaultdict(Counter)
    approved: dict[int, datetime] = {}
    for permit_id, decision, phase, signed_at in (
            Signature.select(Signature.permit, Signature.decision, Step.phase, Signature.signed_at)
            .join(Step, on=Signature.step == Step.id).where(Signature.permit.in_(ids)).tuples()):
        decisions[permit_id][decision] += 1
        if phase == "approve" and decision == "approve":
            approved[permit_id] = max(signed_at, approved.get(permit_id, signed_at))
    numbers = {p[1]: p[0] for p in page}
    failed_audit = {pid for (pid,) in PermitAudit.select(PermitAudit.permit)
                    .where(PermitAudit.permit.in_(ids) & (PermitAudit.state == AUDIT_FAILED)).tuples()}
    escalated: dict[int, Counter] = defaultdict(Counter)
    paused: Counter = Counter()
    for no, action, data in (AuditEvent.select(AuditEvent.permit_no, AuditEvent.action, AuditEvent.data)
                             .where(AuditEvent.permit_no.in_(list(numbers))
                                    & AuditEvent.action.in_(["escalate", "suspend"])).tuples()):
        if action == "escalate":
            escalated[numbers[no]][(data or {}).get("step")] += 1
        else:
            paused[numbers[no]] += 1
    for pid, _no, work_type, grade, state, planned_start, submitted, started, closed in page:
        t = templates.get(work_type)
        figures.permits += 1
        figures.by_type_grade[(t.name, grade if grade not in (None, UNGRADED) else NO_GRADE)] += 1
        figures.by_state[state] += 1
        figures.per_day[run.clock(planned_start).date()] += 1
        if closed is not None:
            figures.closed_per_day[run.clock(planned_start).date()] += 1
            figures.cycles.append(round((closed - (submitted or closed)).total_seconds() / 3600, 1))
        counts = decisions[pid]
        figures.rejections += counts["reject"]
        figures.returns += counts["return"]
        figures.rectifications += counts["rectify"]
        figures.first_pass += not (counts["reject"] or counts["return"])
        if started is not None:
            figures.started += 1
            figures.closed_after_start += closed is not None
            figures.suspended += paused[pid] > 0
        figures.suspensions += paused[pid]
        accept_done = any(s[4] == "accept" and s[5] == "done" for s in steps[pid])
        if accept_done or counts["rectify"]:
            figures.accepted += 1
            figures.accepted_first_time += accept_done and not counts["rectify"]
        _steps_and_compliance(figures, steps[pid], escalated[pid], started, approved.get(pid), pid in failed_audit)


def _steps_and_compliance(figures: Figures, steps: list[tuple], escalated: Counter,
                          started: datetime | None, approved: datetime | None, audit_failed: bool) -> None:
    late = bool(escalated)
    in_order, previous, pending_before = True, None, False
    for _pid, key, _seq, name, phase, state, activated, due, completed in steps:
        if state == "pending":
            pending_before = True
            continue
        if state != "done" or completed is None:
            continue
        stats = figures.steps[name]
        stats.done += 1
        stats.wait_minutes += (completed - (activated or completed)).total_seconds() / 60
        overdue = due is not None and completed > due
        stats.overdue += overdue
        stats.escalations += escalated[key]
        stats.escalated += escalated[key] > 0
        late = late or overdue
        # A step done while an earlier one still waits, or done before the one before it, is out of order.
        if pending_before or (previous is not None and completed < previous):
            in_order = False
        previous = completed
    early = started is not None and (approved is None or started < approved)
    figures.out_of_order += not in_order
    figures.late += late
    figures.started_early += early
    figures.audit_failed += audit_failed
    figures.compliant += in_order and not late and not early and not audit_failed
