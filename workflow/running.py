"""Rules for work left running: stop day work at nightfall, a confined-space reading every 2 h, and a
fresh gas test at the start of every working day.

The scheduler's scan calls the *_due functions with its clock; each permit found is acted on in its
own command and transaction, which re-checks that the rule is still due (a second scan, or one that
raced a resume, finds nothing to do).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import settings
from models import AuditEvent, GasReading, Person
from models.permit import Permit

from . import assign, machine, template as templates
from .clock import local
from .deadlines import NothingDue
from .errors import WorkflowError
from .grading import after_nightfall, nightfall_at
from .machine import Ctx, Outcome, run
from .states import IN_PROGRESS
from .suspension import stop_work

READING_REMIND_MINUTES = 15   # the reminder comes this long before a missing reading suspends the work
REMIND_READING = "remind_reading"


def day_start(now: datetime) -> datetime:
    """Return the plant-local midnight that began now's working day, as naive UTC."""
    tz = settings.current().plant_tz
    midnight = local(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def tested_today(permit: Permit, now: datetime) -> bool:
    """Tell whether a passing reading was taken on permit since the start of now's working day."""
    return GasReading.select().where((GasReading.permit == permit) & (GasReading.passed == True)  # noqa: E712
                                     & (GasReading.taken_at >= day_start(now))
                                     & (GasReading.taken_at <= now)).exists()


def _running(codes: list[str]) -> list[str]:
    rows = Permit.select(Permit.no).where((Permit.state == IN_PROGRESS) & Permit.work_type.in_(codes))
    return [no for (no,) in rows.order_by(Permit.id).tuples()]


def _each(numbers: list[str], act) -> list[Outcome]:
    done = []
    for no in numbers:
        try:
            done.append(act(no))
        except NothingDue:
            continue
        except WorkflowError:
            continue   # moved on since the scan found it (resumed, completed, changed)
    return done


# --- nightfall ---

def nightfall(permit_no: str, *, now: datetime) -> Outcome:
    """Suspend day work (夜间不作业) that is still running at the plant's nightfall."""
    def body(ctx: Ctx) -> None:
        permit, t, plant = ctx.permit, ctx.template, settings.current()
        if permit.attributes.get("night_work") != "否" or permit.state != IN_PROGRESS \
                or not after_nightfall(ctx.now, t, plant.plant_tz, plant.nightfall):
            raise NothingDue("not day work at night")
        begins = nightfall_at(local(ctx.now, plant.plant_tz).date(), t, plant.nightfall).strftime("%H:%M")
        stop_work(ctx, f"已到夜间（{begins} 起），本作业票申报夜间不作业。次日气体复测合格后由监护人恢复作业")
        ctx.data = {**ctx.data, "rule": "nightfall"}
    return run(permit_no, "suspend", body, by=None, now=now)


def nightfall_due(now: datetime) -> list[Outcome]:
    """Suspend every running permit declared as day work once night has fallen."""
    codes = [t.code for t in templates.registry().values() if t.field("night_work") is not None]
    plant = settings.current()
    due = [no for no in _running(codes)
           if after_nightfall(now, templates.get(Permit.get(Permit.no == no).work_type), plant.plant_tz,
                              plant.nightfall)]
    return _each(due, lambda no: nightfall(no, now=now))


# --- a logged reading every 2 h (confined space) ---

def _last_logged(permit: Permit, now: datetime) -> datetime:
    newest = (GasReading.select(GasReading.taken_at)
              .where((GasReading.permit == permit) & (GasReading.taken_at <= now))
              .order_by(GasReading.taken_at.desc()).first())
    moments = [m for m in (newest.taken_at if newest else None, permit.started_at) if m is not None]
    return max(moments) if moments else now


def _reminded_since(permit: Permit, since: datetime) -> bool:
    return AuditEvent.select().where((AuditEvent.permit_no == permit.no) & (AuditEvent.action == REMIND_READING)
                                     & (AuditEvent.created_at >= since)).exists()


def reading_check(permit_no: str, *, now: datetime) -> Outcome:
    """Remind before the interval runs out without a logged reading; suspend the work once it has."""
    def body(ctx: Ctx) -> None:
        permit, t = ctx.permit, ctx.template
        every = t.gas.log_every_minutes
        if not every or permit.state != IN_PROGRESS:
            raise NothingDue("no reading interval")
        last = _last_logged(permit, ctx.now)
        deadline = last + timedelta(minutes=every)
        hours = f"{every / 60:g} 小时" if every % 60 == 0 else f"{every} 分钟"
        if ctx.now > deadline:
            ctx.command = "suspend"
            stop_work(ctx, f"作业中超过 {hours}没有气体检测记录（GB 30871-2022 受限空间作业）。"
                           "重新检测合格后由监护人恢复作业")
            ctx.data = {**ctx.data, "rule": "reading_interval", "last_reading": last.isoformat()}
            return
        if ctx.now < deadline - timedelta(minutes=READING_REMIND_MINUTES) or _reminded_since(permit, last):
            raise NothingDue("no reminder due")
        gas = next((s for s in t.steps if s.kind == "gas"), None)
        testers = assign.resolve(gas, permit) if gas else []
        by = local(deadline, settings.current().plant_tz)
        text = (f"{permit.no} 受限空间作业须每 {hours}记录一次气体检测数据，请于 {by:%H:%M} 前检测并录入，"
                "逾期将暂停作业")
        ctx.tell(_unique(testers + machine.members(permit, "监护人")), "info", text)
        ctx.bump, ctx.data = False, {"deadline": deadline.isoformat(), "testers": [p.id for p in testers]}
    return _run_reading(permit_no, body, now)


def _run_reading(permit_no: str, body, now: datetime) -> Outcome:
    # The audit names what happened: a reminder, or (the body switched the command) a suspension.
    return run(permit_no, REMIND_READING, body, by=None, now=now)


def readings_due(now: datetime) -> list[Outcome]:
    """Remind or suspend every running permit whose template asks for a reading at an interval."""
    codes = [t.code for t in templates.registry().values() if t.gas.log_every_minutes]
    return _each(_running(codes), lambda no: reading_check(no, now=now))


# --- a fresh gas test at the start of every working day ---

def day_hold(permit_no: str, *, now: datetime) -> Outcome:
    """Hold work that ran into a new working day until a fresh passing reading is logged."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        if (permit.state != IN_PROGRESS or not ctx.template.gas.fresh_minutes or permit.started_at is None
                or permit.started_at >= day_start(ctx.now) or tested_today(permit, ctx.now)):
            raise NothingDue("tested today")
        stop_work(ctx, "新的作业日开始，须重新进行气体分析，合格后由监护人恢复作业（GB 30871-2022）")
        ctx.data = {**ctx.data, "rule": "daily_retest"}
    return run(permit_no, "suspend", body, by=None, now=now)


def day_holds_due(now: datetime) -> list[Outcome]:
    """Hold every running permit with a gas rule that has no passing reading yet today."""
    codes = [t.code for t in templates.registry().values() if t.gas.fresh_minutes]
    return _each(_running(codes), lambda no: day_hold(no, now=now))


def _unique(people: list[Person]) -> list[Person]:
    seen, out = set(), []
    for p in people:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out
