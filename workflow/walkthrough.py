"""Take one permit of a work type from draft to close, acting as whoever's turn it is.

The demo and the lifecycle tests use this: it signs only through the engine's public commands, so
every gate (on-site check-in, fresh gas test, photos, guardians) has to be met the way a person
would meet it.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable

from models import Sensor, Step, find_person
from models.permit import Permit
from models.sensor import PORTABLE

from . import engine, machine, onsite, template as templates, work
from .drafts import create_permit
from .rules import UNGRADED
from .states import CLOSED

# What an applicant at the sample plant would fill in for each work type.
SAMPLES = {
    "hot_work": dict(location="3#罐区东侧管廊", content="DN100 管线法兰焊接", medium="甲烷",
                     attributes={"declared_grade": "一级"}),
    "confined_space": dict(location="常减压装置 V-101", content="原料罐内部检查清理",
                           medium="甲烷", attributes={"space_name": "V-101 原料罐"}),
    "blind_plate": dict(location="常减压装置 P-12 管线", content="P-12 蒸汽线加盲板",
                        attributes={"blind_no": "MB-P12-03", "action": "堵", "pipe": "蒸汽 1.0MPa 180℃"}),
    "height": dict(location="常减压装置 塔T-101 平台", content="塔顶仪表更换",
                   attributes={"height_m": 12}),
    "lifting": dict(location="常减压装置 东侧空地", content="换热器管束吊装",
                    attributes={"load_t": 25, "crane": "50t 汽车吊"}),
    "temp_power": dict(location="常减压装置 检修区", content="检修照明及电焊机临时用电",
                       attributes={"voltage": "380V"}),
    "excavation": dict(location="常减压装置 北侧道路旁", content="埋地管线开挖检修",
                       attributes={"depth_m": 1.5, "area": "6m×2m"}),
    "road_closure": dict(location="厂区三号路", content="管廊支架基础施工",
                         attributes={"road": "厂区三号路", "detour": "车辆经四号路绕行"}),
}
APPLICANT, CREW, GUARDIANS = "zhuyan", ["jianghan", "shenli"], ["chuwei"]
PASSING_GAS = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}
# Reports every 10 minutes: the walkthrough's clock moves minutes per action, not seconds.
WALK_DETECTOR = "WT-0001"


class Clock:
    """A simulated clock that moves a few minutes per action, so freshness rules see real gaps."""

    def __init__(self, start: datetime, step_minutes: int = 3):
        self.now, self.step = start, timedelta(minutes=step_minutes)

    def tick(self) -> datetime:
        self.now += self.step
        return self.now


def draft(work_type: str, *, start: datetime, hours: float = 8) -> Permit:
    """Create the sample draft of work_type with its window starting at start."""
    sample = SAMPLES[work_type]
    person = find_person
    return create_permit(work_type, applicant=person(APPLICANT), planned_start=start,
                         planned_end=start + timedelta(hours=hours),
                         crew=[person(a) for a in CREW], guardians=[person(a) for a in GUARDIANS],
                         now=start - timedelta(hours=2), **sample)


def _gas_values(t) -> dict:
    return {g: PASSING_GAS[g] for g in set(t.gas.required) | {"O2", "EX"}}


def _act(permit: Permit, step: Step, clock: Clock, say: Callable[[str], None]) -> None:
    t = templates.get(permit.work_type)
    d = t.step(step.key)
    people = machine.assignees(step)
    if d.kind == "gas":
        work.record_gas(permit.no, by=people[0], values=_gas_values(t), now=clock.tick())
        say(f"  {step.name:<12} {people[0].name} 录入合格的气体检测数据")
        return
    for kind in d.gates.photos:   # the start's, and the finished site's at completion and acceptance
        work.attach(permit.no, by=permit.applicant, kind=kind, data=f"{kind} photo".encode(),
                    filename=f"{kind}.jpg", step_key=step.key, now=clock.tick())
    if d.phase == "start":
        if d.gates.gas_fresh:
            tester = next(p for p in machine.assignees(Step.get((Step.permit == permit) & (Step.phase == "gas"))))
            work.record_gas(permit.no, by=tester, values=_gas_values(t), now=clock.tick())
        isolate(permit, clock, say)
        arrive(permit, d.gates.checkins, clock, say)
        if d.gates.monitoring and (permit.grade or UNGRADED) in t.gas.continuous:
            monitor(permit, t, clock)
            say(f"  {'连续监测':<12} 绑定检测仪 {WALK_DETECTOR}，上报合格读数")
    signers = people if d.mode == "all" else people[:1]
    for person in signers:
        if d.onsite:
            engine.check_in(permit.no, by=person, now=clock.tick())
        ticks = list(d.checklist) if d.kind == "checklist" else None
        out = engine.sign(permit.no, step.key, by=person, ticks=ticks, now=clock.tick())
        say(f"  {step.name:<12} {person.name} {'同意' if d.kind == 'approve' else '确认'}"
            f"{'（逐项勾选 %d 项）' % len(ticks) if ticks else ''} → {out.state}")


def isolate(permit: Permit, clock: Clock, say: Callable[[str], None]) -> None:
    """Lock out the sample valve (and, for 盲板抽堵, register its blind) where the type needs isolation."""
    from isolation import points
    from models.isolation import IsolationLink
    if not templates.get(permit.work_type).needs_isolation(permit.grade) or IsolationLink.select().where(
            (IsolationLink.permit == permit) & (IsolationLink.purpose == "depends")).exists():
        return
    applicant, guardian = permit.applicant, machine.members(permit, onsite.GUARDIAN)[0]
    valve = f"V-{permit.no}"
    points.register(permit.no, tag=valve, method="关阀上锁", lock_no=f"L-{permit.id}", by=applicant, now=clock.tick())
    points.verify(valve, by=guardian, permit_no=permit.no, now=clock.tick())
    blind = (permit.attributes or {}).get("blind_no")
    named = IsolationLink.select().where((IsolationLink.permit == permit) & (IsolationLink.purpose != "depends"))
    if permit.work_type == "blind_plate" and blind and not named.exists():
        points.register(permit.no, tag=blind, method="加盲板", lock_no=f"B-{permit.id}", by=applicant,
                        now=clock.tick())
    say(f"  {'能量隔离':<12} {applicant.name} 登记 {valve} 关阀上锁，{guardian.name} 确认隔离")


def arrive(permit: Permit, roles: tuple[str, ...], clock: Clock, say: Callable[[str], None]) -> None:
    """Check in on site everyone the start names (the guardian and the work leader)."""
    present = onsite.people_in_roles(permit, roles)
    for _role, person in present:
        engine.check_in(permit.no, by=person, now=clock.tick())
    if present:
        say(f"  {'现场签到':<12} {'、'.join(f'{role} {p.name}' for role, p in present)} 扫码签到")


def monitor(permit: Permit, t, clock: Clock) -> None:
    """Bind the walkthrough's own portable detector and let it report, as continuous monitoring needs."""
    from sensors import intake, watch
    sensor = Sensor.get_or_none(Sensor.code == WALK_DETECTOR) or Sensor.create(
        code=WALK_DETECTOR, name="演练用便携式四合一检测仪", area="演练", kind=PORTABLE,
        gases=list(PASSING_GAS), interval_seconds=600, secret=secrets.token_hex(16), created_at=clock.now)
    watch.bind(permit.no, sensor.code, by=permit.applicant, now=clock.tick())
    at = clock.tick()
    intake.ingest(sensor, [intake.Reading(at, {g: PASSING_GAS[g] for g in sensor.gases})], now=at)


def run_to_close(work_type: str, *, start: datetime, say: Callable[[str], None] = lambda s: None) -> Permit:
    """Take a sample permit of work_type through every step to closed; return it."""
    permit = draft(work_type, start=start)
    clock = Clock(start - timedelta(minutes=90))
    out = engine.submit(permit.no, by=permit.applicant, now=clock.tick())
    say(f"{permit.no} {templates.get(work_type).name} {out.detail}")
    for _ in range(40):
        permit = Permit.get_by_id(permit.id)
        if permit.state == CLOSED:
            return permit
        step = machine.active_step(permit)
        if step.phase == "start" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        _act(permit, step, clock, say)
    raise RuntimeError(f"{permit.no} did not close: stuck in {permit.state}")


def next_working_morning(plant) -> datetime:
    """Return 08:00 plant time on the next working day that is not a holiday, as naive UTC."""
    from datetime import time as clock_time, timezone
    day = datetime.now(plant.plant_tz).date() + timedelta(days=1)
    while day.weekday() >= 5 or day in plant.holidays:
        day += timedelta(days=1)
    moment = datetime.combine(day, clock_time(8, 0), plant.plant_tz)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
