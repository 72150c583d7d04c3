"""Each rule of RULES.md (GB 30871-2022), enforced through the engine's public commands.

Every test drives a real permit on the sample plant and asserts what the person would see: the named
error, the key words of its Chinese message, and that the refused command changed nothing.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest

import settings
from models import Alarm, AuditEvent, Certificate, Outbox, Sensor, Step, find_person
from models.permit import Permit
from tests.conftest import MORNING
from sensors import intake, watch
from workflow import (AlreadySigned, GateNotMet, InvalidPermit, InvalidTransition, NotAuthorized,
                      Outcome, attach, audit, check_in, create_permit, edit_draft, machine, onsite,
                      record_gas, request_change, resume, sign, start, submit, suspend, template)
from workflow.clock import local
from workflow.rules import UNGRADED
from workflow.walkthrough import SAMPLES, WALK_DETECTOR, Clock, _act, isolate, monitor

GOOD_AIR = {"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def shanghai(day: int, hour: int) -> datetime:
    """Return November `day` 2026 at `hour` o'clock Shanghai time as naive UTC."""
    return datetime(2026, 11, day, hour) - timedelta(hours=8)


# --- helpers: write a permit, drive it, and check that a refusal changed nothing ---

def make(work_type: str, *, start: datetime = MORNING, hours: float = 8, applicant: str = "zhuyan",
         crew=("jianghan", "shenli"), guardians=("chuwei",), medium: str | None = None,
         **attributes) -> Permit:
    """Create the walkthrough's sample draft of work_type, with the given changes."""
    sample = SAMPLES[work_type]
    return create_permit(
        work_type, applicant=find_person(applicant), location=sample["location"],
        content=sample["content"], medium=medium or sample.get("medium"),
        planned_start=start, planned_end=start + timedelta(hours=hours),
        attributes={**sample["attributes"], **attributes},
        crew=[find_person(a) for a in crew], guardians=[find_person(a) for a in guardians],
        now=start - timedelta(hours=2))


def hot(grade: str, **kwargs) -> Permit:
    return make("hot_work", declared_grade=grade, **kwargs)


def clock_for(permit: Permit) -> Clock:
    return Clock(permit.planned_start - minutes(90))


def submitted(permit: Permit, clock: Clock | None = None) -> Permit:
    """Submit the draft as its applicant; return the permit as stored."""
    clock = clock or clock_for(permit)
    submit(permit.no, by=permit.applicant, now=clock.tick())
    return reload(permit)


def reload(permit: Permit) -> Permit:
    return Permit.get_by_id(permit.id)


def drive_to(permit: Permit, step_key: str, clock: Clock) -> Step:
    """Act as whoever's turn it is (as the walkthrough does) until step_key is active; return it."""
    if reload(permit).state == "draft":
        submitted(permit, clock)
    for _ in range(30):
        permit = reload(permit)
        step = machine.active_step(permit)
        assert step is not None, f"{permit.no} is {permit.state}, never reached {step_key}"
        if step.key == step_key:
            return step
        if step.phase == "start" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        _act(permit, step, clock, lambda line: None)
    raise AssertionError(f"{permit.no} never reached {step_key}")


def at_start(permit: Permit, clock: Clock, *, photos: bool = True) -> None:
    """Drive to the on-site start at the planned start time, with the start's photos attached."""
    drive_to(permit, "start", clock)
    clock.now = max(clock.now, permit.planned_start)
    t = template.get(permit.work_type)
    if t.step("start").gates.monitoring and (permit.grade or UNGRADED) in t.gas.continuous:
        monitor(permit, t, clock)
    isolate(permit, clock, lambda line: None)    # 受限空间 and 盲板抽堵 start only behind a verified lockout
    if photos:
        for kind in template.get(permit.work_type).step("start").gates.photos:
            attach(permit.no, by=permit.applicant, kind=kind, data=f"{kind}".encode(),
                   filename=f"{kind}.jpg", now=clock.now)
    on_site(permit, clock.now)


def working(permit: Permit, clock: Clock) -> Permit:
    """Drive the permit to in progress (started by its guardian after a fresh gas test)."""
    drive_to(permit, "complete", clock)
    permit = reload(permit)
    assert permit.state == "in_progress"
    return permit


def gas_test(permit: Permit, at: datetime, **values) -> Outcome:
    """Record a reading by the plant's gas tester (GOOD_AIR unless values say otherwise)."""
    return record_gas(permit.no, by=find_person("chenjian"), values={**GOOD_AIR, **values}, now=at)


def on_site(permit: Permit, at: datetime) -> None:
    """The guardian and the work leader scan the site's QR code at `at`, as the start needs."""
    for _role, person in onsite.people_in_roles(permit, ("监护人", "作业负责人")):
        check_in(permit.no, by=person, now=at)


def detector_reports(permit: Permit, at: datetime) -> None:
    """Let the walkthrough's detector report clean air, where it watches the permit (monitored work)."""
    sensor = Sensor.get_or_none(Sensor.code == WALK_DETECTOR)
    if sensor is not None and permit in watch.watched_permits(sensor):
        intake.ingest(sensor, [intake.Reading(at, dict(GOOD_AIR))], now=at)


def start_work(permit: Permit, at: datetime) -> Outcome:
    return start(permit.no, by=find_person("chuwei"), now=at)


def approve(permit: Permit, step_key: str, account: str, at: datetime) -> Outcome:
    """Check in on site, then sign the approval step a minute later."""
    check_in(permit.no, by=find_person(account), now=at)
    return sign(permit.no, step_key, by=find_person(account), now=at + minutes(1))


def names(people) -> set[str]:
    return {p.name for p in people}


def assignees(permit: Permit, step_key: str) -> set[str]:
    return names(machine.assignees(Step.get((Step.permit == permit) & (Step.key == step_key))))


def approval_chain(permit: Permit, clock: Clock) -> list[tuple[str, set[str]]]:
    """Sign every approval step in turn; return each step's key and who was asked to sign it."""
    step, chain = drive_to(permit, "approve_unit", clock), []
    while step.phase == "approve":
        chain.append((step.key, names(machine.assignees(step))))
        _act(reload(permit), step, clock, lambda line: None)
        step = machine.active_step(reload(permit))
    return chain


def approval_states(permit: Permit) -> dict[str, str]:
    return {s.key: s.state for s in machine.steps(permit) if s.phase == "approve"}


def footprint(permit_no: str) -> tuple:
    """What a refused command must leave as it was: content, state, version, steps, audit trail."""
    permit = Permit.get(Permit.no == permit_no)
    steps = [(s.key, s.state, s.round) for s in machine.steps(permit)]
    events = AuditEvent.select().where(AuditEvent.permit_no == permit_no).count()
    return audit.snapshot(permit), steps, events


@contextmanager
def refused(error: type, text: str, permit: Permit):
    """Expect the block to raise error with text in its message and to change nothing."""
    before = footprint(permit.no)
    with pytest.raises(error) as caught:
        yield caught
    assert text in caught.value.message, caught.value.message
    assert footprint(permit.no) == before


# --- 1. validity per grade ---

def test_hot_work_grade_one_validity_is_8_hours(plant):
    assert submitted(hot("一级", hours=8)).state == "in_approval"
    permit = hot("一级", hours=8.5)
    with refused(InvalidPermit, "一级动火作业作业票有效期不超过 8 小时", permit):
        submitted(permit)


def test_hot_work_special_grade_validity_is_8_hours(plant):
    permit = hot("特级", hours=9)
    with refused(InvalidPermit, "特级动火作业作业票有效期不超过 8 小时", permit):
        submitted(permit)


def test_hot_work_grade_two_may_run_past_8_hours_in_daytime(plant):
    permit = submitted(hot("二级", start=shanghai(24, 6), hours=12))   # 06:00–18:00, no night
    assert (permit.state, permit.grade) == ("in_approval", "二级")


def test_hot_work_grade_two_across_a_night_is_held_to_the_grade_one_8_hours(plant):
    # Any window over 12 h overlaps a night, so a 72-hour 二级 window is raised to 一级 (8 h).
    permit = hot("二级", hours=72)
    with refused(InvalidPermit, "一级动火作业（因夜间作业升级）作业票有效期不超过 8 小时", permit):
        submitted(permit)


def test_hot_work_grade_two_declared_without_night_work_may_run_72_hours(plant):
    permit = submitted(hot("二级", hours=72, night_work="否"))
    assert (permit.state, permit.grade) == ("in_approval", "二级")
    longer = hot("二级", hours=73, night_work="否")
    with refused(InvalidPermit, "二级动火作业作业票有效期不超过 72 小时", longer):
        submitted(longer)


def test_declared_no_night_work_neither_starts_nor_resumes_at_night(plant):
    permit = hot("二级", start=shanghai(24, 17), hours=48, night_work="否")
    clock = clock_for(permit)
    at_start(permit, clock)
    gas_test(permit, shanghai(24, 18) + minutes(10))
    with refused(GateNotMet, "申报夜间不作业", permit):
        start_work(permit, shanghai(24, 18) + minutes(20))
    gas_test(permit, shanghai(25, 7))
    on_site(permit, shanghai(25, 7))
    assert start_work(permit, shanghai(25, 7) + minutes(5)).state == "in_progress"
    suspend(permit.no, by=find_person("chuwei"), reason="收工", now=shanghai(25, 17) + minutes(50))
    gas_test(permit, shanghai(25, 18) + minutes(5))
    with refused(GateNotMet, "申报夜间不作业", permit):
        resume(permit.no, by=find_person("chuwei"), now=shanghai(25, 18) + minutes(10))


@pytest.mark.parametrize("work_type, longest", [("confined_space", 24), ("height", 7 * 24),
                                                ("temp_power", 15 * 24)])
def test_validity_of_ungraded_and_height_permits(plant, work_type, longest):
    assert submitted(make(work_type, hours=longest)).state == "in_approval"
    permit = make(work_type, hours=longest + 1)
    with refused(InvalidPermit, f"作业票有效期不超过 {longest} 小时", permit):
        submitted(permit)


def test_temp_power_runs_30_days_only_with_a_special_reason(plant):
    reason = "全厂大检修期间照明"
    assert submitted(make("temp_power", hours=720, special_reason=reason)).state == "in_approval"
    without = make("temp_power", hours=720)
    with refused(InvalidPermit, "有效期不超过 360 小时", without):
        submitted(without)
    longer = make("temp_power", hours=721, special_reason=reason)
    with refused(InvalidPermit, "有效期不超过 720 小时", longer):
        submitted(longer)


def test_temp_power_serving_a_hot_work_permit_ends_with_it(plant):
    served = submitted(hot("一级", hours=8))
    assert submitted(make("temp_power", hours=8, serves=served.no)).state == "in_approval"
    permit = make("temp_power", hours=9, serves=served.no)
    with refused(InvalidPermit, f"临时用电服务于 {served.no}，有效期不能超过该作业票", permit):
        submitted(permit)


def test_temp_power_serves_only_hot_work_or_confined_space(plant):
    height = submitted(make("height"))
    permit = make("temp_power", serves=height.no)
    with refused(InvalidPermit, "不是动火/受限空间作业票", permit):
        submitted(permit)


# --- 2. approver per grade ---

def test_hot_work_grade_two_is_approved_by_the_unit_only(plant):
    permit = submitted(hot("二级"))
    assert approval_states(permit) == {"approve_unit": "pending", "approve_safety": "skipped",
                                       "approve_leader": "skipped"}
    assert approval_chain(permit, clock_for(permit)) == [("approve_unit", {"吴海", "施文"})]


def test_hot_work_grade_one_adds_the_safety_department(plant):
    permit = submitted(hot("一级"))
    assert approval_states(permit) == {"approve_unit": "pending", "approve_safety": "pending",
                                       "approve_leader": "skipped"}
    assert approval_chain(permit, clock_for(permit)) == [("approve_unit", {"吴海", "施文"}),
                                                         ("approve_safety", {"钱安平"})]


def test_hot_work_special_grade_adds_the_plant_leader(plant):
    permit = submitted(hot("特级"))
    assert set(approval_states(permit).values()) == {"pending"}
    assert approval_chain(permit, clock_for(permit)) == [("approve_unit", {"吴海", "施文"}),
                                                         ("approve_safety", {"钱安平"}),
                                                         ("approve_leader", {"赵建国"})]


UNIT, SPECIALIST, LEADER = ("approve_unit", {"吴海", "施文"}), ("approve_specialist", {"李正"}), \
    ("approve_leader", {"赵建国"})


@pytest.mark.parametrize("work_type, attributes, chain", [
    ("height", {"height_m": 3}, [UNIT]),
    ("height", {"height_m": 12}, [UNIT, SPECIALIST]),
    ("height", {"height_m": 20}, [UNIT, SPECIALIST]),
    ("height", {"height_m": 40}, [UNIT, SPECIALIST, LEADER]),
    ("lifting", {"load_t": 25}, [UNIT, SPECIALIST]),
    ("lifting", {"load_t": 60}, [UNIT, SPECIALIST]),
    ("lifting", {"load_t": 120}, [UNIT, SPECIALIST, LEADER]),
    ("temp_power", {}, [UNIT, ("approve_power", {"许电"})]),
    ("confined_space", {}, [UNIT]),
    ("blind_plate", {}, [UNIT]),
], ids=["height-I", "height-II", "height-III", "height-IV", "lifting-3", "lifting-2", "lifting-1",
        "temp_power", "confined_space", "blind_plate"])
def test_approvers_by_work_type_and_grade(plant, work_type, attributes, chain):
    permit = make(work_type, **attributes)
    assert approval_chain(permit, clock_for(permit)) == chain


@pytest.mark.parametrize("work_type, countersigners", [
    ("excavation", {"李正", "周强", "钱安平"}), ("road_closure", {"钱安平"})])
def test_countersign_before_specialist_approval(plant, work_type, countersigners):
    permit = make(work_type)
    assert [key for key, _ in approval_chain(permit, clock_for(permit))] == [
        "approve_unit", "countersign", "approve_specialist"]
    permit = make(work_type)
    clock = clock_for(permit)
    drive_to(permit, "countersign", clock)
    assert assignees(permit, "countersign") == countersigners
    signers = sorted(machine.assignees(machine.active_step(permit)), key=lambda p: p.id)
    for person in signers[:-1]:
        approve(permit, "countersign", person.wecom_userid, clock.tick())
        clock.tick()
        assert machine.active_step(permit).key == "countersign"   # still waiting for the others
    approve(permit, "countersign", signers[-1].wecom_userid, clock.tick())
    assert machine.active_step(permit).key == "approve_specialist"
    assert assignees(permit, "approve_specialist") == {"李正"}


# --- 3. grade rules ---

@pytest.mark.parametrize("declared, start, hours, wind, grade, reasons", [
    ("二级", shanghai(24, 8), 8, None, "二级", []),
    ("二级", shanghai(24, 6), 12, None, "二级", []),                  # 06:00–18:00 touches no night
    ("二级", shanghai(24, 16), 4, None, "一级", ["夜间作业"]),          # runs past 18:00
    ("二级", shanghai(24, 5), 2, None, "一级", ["夜间作业"]),           # starts before 06:00
    ("二级", shanghai(28, 8), 8, None, "一级", ["节假日、公休日作业"]),  # Saturday
    ("二级", shanghai(24, 8), 8, 5, "一级", ["风力≥5级"]),
    ("二级", shanghai(24, 8), 8, 4, "二级", []),
    ("一级", shanghai(24, 16), 4, None, "特级", ["夜间作业"]),
    ("特级", shanghai(24, 16), 4, None, "特级", ["夜间作业"]),          # nothing above 特级
    ("二级", shanghai(28, 16), 4, 6, "一级", ["夜间作业", "节假日、公休日作业", "风力≥5级"]),
], ids=["day", "day-edges", "evening", "early-morning", "weekend", "wind-5", "wind-4",
        "one-to-special", "special-stays", "three-reasons-raise-one-grade"])
def test_hot_work_grade_is_raised_one_grade(plant, declared, start, hours, wind, grade, reasons):
    permit = submitted(hot(declared, start=start, hours=hours, wind_force=wind))
    assert (permit.grade, permit.attributes["grade_reasons"]) == (grade, reasons)


def test_hot_work_on_a_configured_holiday_is_raised(plant):
    settings.configure({"PLANT_HOLIDAYS": "2026-11-25"})
    permit = submitted(hot("二级", start=shanghai(25, 8)))
    assert (permit.grade, permit.attributes["grade_reasons"]) == ("一级", ["节假日、公休日作业"])
    assert submitted(hot("二级", start=shanghai(26, 8))).grade == "二级"


@pytest.mark.parametrize("height, grade", [(2, "Ⅰ"), (5, "Ⅰ"), (5.1, "Ⅱ"), (15, "Ⅱ"), (15.1, "Ⅲ"),
                                           (30, "Ⅲ"), (30.5, "Ⅳ")])
def test_height_grade_bands(plant, height, grade):
    assert submitted(make("height", height_m=height)).grade == grade


def test_below_2_metres_is_not_work_at_height(plant):
    permit = make("height", height_m=1.9)
    with refused(InvalidPermit, "1.9 低于 2，不属于高处作业", permit):
        submitted(permit)


@pytest.mark.parametrize("height, grade", [(3, "Ⅱ"), (20, "Ⅳ"), (40, "Ⅳ")])
def test_height_aggravating_condition_raises_one_grade(plant, height, grade):
    permit = submitted(make("height", height_m=height, aggravating=["阵风风力五级及以上"]))
    assert (permit.grade, permit.attributes["grade_reasons"]) == (
        grade, ["特殊情况：阵风风力五级及以上"])


@pytest.mark.parametrize("load, grade", [(39.9, "三级"), (40, "二级"), (100, "二级"), (100.1, "一级")])
def test_lifting_grade_bands(plant, load, grade):
    assert submitted(make("lifting", load_t=load)).grade == grade


# --- 4. gas analysis ---

def test_start_needs_a_gas_test_from_the_last_30_minutes(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    tested = clock.now
    gas_test(permit, tested)
    with refused(GateNotMet, "超过 30 分钟，请重新检测", permit):
        start_work(permit, tested + minutes(31))
    gas_test(permit, tested + minutes(32))
    on_site(permit, tested + minutes(32))
    assert start_work(permit, tested + minutes(33)).state == "in_progress"


def test_a_failing_gas_test_blocks_the_start(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    gas_test(permit, clock.now)
    gas_test(permit, clock.tick(), EX=50)        # the newest reading decides
    with refused(GateNotMet, "最近一次气体分析不合格", permit):
        start_work(permit, clock.tick())


@pytest.mark.parametrize("work_type, grade, limit", [
    ("hot_work", "特级", 30), ("hot_work", "一级", 30), ("hot_work", "二级", 60),
    ("confined_space", None, 60)])
def test_resume_after_a_long_pause_needs_a_new_gas_test(plant, work_type, grade, limit):
    permit = make(work_type, **({"declared_grade": grade} if grade else {}))
    clock = clock_for(permit)
    working(permit, clock)
    guardian, paused = find_person("chuwei"), clock.tick()
    suspend(permit.no, by=guardian, reason="监护人离开", now=paused)
    with refused(GateNotMet, "没有暂停后气体分析记录", permit):
        resume(permit.no, by=guardian, now=paused + minutes(limit + 1))
    gas_test(permit, paused + minutes(limit + 2))
    detector_reports(permit, paused + minutes(limit + 2))
    assert resume(permit.no, by=guardian, now=paused + minutes(limit + 3)).state == "in_progress"


@pytest.mark.parametrize("work_type, grade, limit", [
    ("hot_work", "一级", 30), ("hot_work", "二级", 60), ("confined_space", None, 60)])
def test_resume_after_a_short_pause_needs_no_new_gas_test(plant, work_type, grade, limit):
    permit = make(work_type, **({"declared_grade": grade} if grade else {}))
    clock = clock_for(permit)
    working(permit, clock)
    guardian, paused = find_person("chuwei"), clock.tick()
    suspend(permit.no, by=guardian, reason="临时停电", now=paused)
    detector_reports(permit, paused + minutes(limit - 2))
    assert resume(permit.no, by=guardian, now=paused + minutes(limit - 1)).state == "in_progress"


def test_a_new_working_day_needs_a_new_gas_test(plant):
    permit = make("confined_space", hours=24)
    clock = clock_for(permit)
    working(permit, clock)
    guardian, paused = find_person("chuwei"), shanghai(24, 23) + minutes(50)
    suspend(permit.no, by=guardian, reason="收工", now=paused)
    with refused(GateNotMet, "没有暂停后气体分析记录", permit):
        resume(permit.no, by=guardian, now=paused + minutes(20))   # 00:10 the next day
    gas_test(permit, paused + minutes(22))
    detector_reports(permit, paused + minutes(22))
    assert resume(permit.no, by=guardian, now=paused + minutes(23)).state == "in_progress"


@pytest.mark.parametrize("work_type, medium, values, passed", [
    ("hot_work", "甲烷", {"EX": 10}, True),         # LEL 5 %: 0.50 %vol, at the 0.5 limit
    ("hot_work", "甲烷", {"EX": 11}, False),
    ("hot_work", "丙烷", {"EX": 10}, False),        # LEL 2.1 %: 0.21 %vol, over the 0.2 limit
    ("hot_work", "丙烷", {"EX": 9}, True),
    ("confined_space", "甲烷", {"O2": 19.4}, False),
    ("confined_space", "甲烷", {"O2": 19.5}, True),
    ("confined_space", "甲烷", {"O2": 21.1}, False),
    ("confined_space", "甲烷", {"H2S": 10}, False),
    ("confined_space", "甲烷", {"H2S": 9.9}, True),
], ids=["methane-10", "methane-11", "propane-10", "propane-9", "o2-19.4", "o2-19.5", "o2-21.1",
        "h2s-10", "h2s-9.9"])
def test_gas_pass_limits(plant, work_type, medium, values, passed):
    permit = make(work_type, medium=medium)
    clock = clock_for(permit)
    drive_to(permit, "gas", clock)
    out = gas_test(permit, clock.tick(), **values)
    assert out.detail.startswith("合格" if passed else "不合格")
    assert machine.active_step(reload(permit)).key == ("approve_unit" if passed else "gas")


def test_a_failing_reading_during_work_suspends_and_tells_everyone_to_stop(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    working(permit, clock)
    out = gas_test(permit, clock.tick(), EX=20)   # 1.0 %vol of methane: over 0.5, under the first alarm
    assert out.state == "suspended"
    stop = Outbox.select().where((Outbox.permit_no == permit.no) & (Outbox.kind == "stop"))
    assert {row.person.name for row in stop} == {"蒋焊", "沈力", "褚卫"}
    assert all("立即停止作业并撤离" in row.payload["text"] for row in stop)


def test_a_manual_reading_past_an_alarm_set_point_stops_the_work_by_alarm_card(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    working(permit, clock)
    out = gas_test(permit, clock.tick(), EX=30)   # first alarm (25 %LEL) and outside the limit
    assert out.state == "suspended"
    alarm = Alarm.get()
    assert alarm.device is None and alarm.suspended == [permit.no] and alarm.text.startswith("人工检测")
    cards = Outbox.select().where(Outbox.kind == "alarm")
    assert {"蒋焊", "沈力", "褚卫"} <= {row.person.name for row in cards}
    # The alarm card is the stop order: the engine's own stop cards are not sent besides it.
    assert not Outbox.select().where(Outbox.kind == "stop").exists()


# --- 5. the guardian ---

def test_a_permit_without_a_guardian_is_refused(plant):
    permit = hot("一级", guardians=())
    with refused(InvalidPermit, "需要至少 1 名监护人", permit):
        submitted(permit)


def test_the_guardian_must_hold_the_guardian_role(plant):
    permit = hot("一级", crew=("jianghan",), guardians=("shenli",))
    with refused(InvalidPermit, "沈力没有“监护人”资格", permit):
        submitted(permit)


def test_a_worker_cannot_also_be_the_guardian(plant):
    permit = hot("一级", crew=("weidong",), guardians=("weidong",))
    with refused(InvalidPermit, "卫东不能同时担任作业人和监护人", permit):
        submitted(permit)


def test_the_applicant_cannot_be_the_guardian(plant):
    permit = hot("一级", applicant="chuwei", guardians=("chuwei",))
    with refused(InvalidPermit, "申请人不能兼任本作业票的监护人", permit):
        submitted(permit)


# --- 6. no self-approval ---

def test_the_applicant_does_not_approve_her_own_permit(plant):
    permit = hot("二级", applicant="shiwen")        # 施文 is a 基层单位负责人 of the unit
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    assert assignees(permit, "approve_unit") == {"吴海"}
    check_in(permit.no, by=find_person("shiwen"), now=clock.tick())
    with refused(NotAuthorized, "申请人不能审批", permit):
        sign(permit.no, "approve_unit", by=find_person("shiwen"), now=clock.tick())


# --- 7. the approver approves on site ---

def test_approval_without_an_on_site_check_in_is_refused(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=find_person("wuhai"), now=clock.tick())


def test_a_check_in_counts_for_30_minutes(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    wuhai, arrived = find_person("wuhai"), clock.tick()
    check_in(permit.no, by=wuhai, now=arrived)
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=wuhai, now=arrived + minutes(31))
    check_in(permit.no, by=wuhai, now=arrived + minutes(32))
    sign(permit.no, "approve_unit", by=wuhai, now=arrived + minutes(32 + 29))
    assert machine.active_step(permit).key == "approve_safety"


def test_a_check_in_at_another_permit_does_not_count(plant):
    permit, other = hot("一级"), hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    submitted(other)
    check_in(other.no, by=find_person("wuhai"), now=clock.tick())
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=find_person("wuhai"), now=clock.tick())


# --- 8. an issued permit is never edited ---

@pytest.mark.parametrize("step_key, state", [("plan", "审批中"), ("start", "未开工"),
                                             ("complete", "作业中")])
def test_only_a_draft_can_be_edited(plant, step_key, state):
    permit = hot("一级")
    drive_to(permit, step_key, clock_for(permit))
    with refused(InvalidTransition, f"当前状态为“{state}”，不能修改草稿", permit):
        edit_draft(permit.no, by=permit.applicant, location="2#罐区", now=MORNING)


@pytest.mark.parametrize("changes", [{"location": "2#罐区西侧"}, {"content": "DN200 管线动火"}],
                         ids=["location", "content"])
def test_a_change_of_location_or_content_needs_a_new_permit(plant, changes):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "start", clock)
    with refused(InvalidPermit, "须重新办理作业票", permit) as caught:
        request_change(permit.no, by=permit.applicant, changes=changes, reason="现场调整",
                       now=clock.tick())
    assert next(iter(changes)) in caught.value.message


# --- 9. one permit per blind per action ---

def test_one_open_permit_per_blind_and_action(plant):
    first = submitted(make("blind_plate", blind_no="MB-P12-03", action="堵"))
    second = make("blind_plate", blind_no="MB-P12-03", action="堵")
    with refused(InvalidPermit, f"已有未关闭的作业票 {first.no}", second):
        submitted(second)
    assert submitted(make("blind_plate", blind_no="MB-P12-03", action="抽")).state == "in_approval"
    assert submitted(make("blind_plate", blind_no="MB-P12-04", action="堵")).state == "in_approval"


# --- 10. photos of the site ---

@pytest.mark.parametrize("work_type", sorted(SAMPLES))
def test_start_needs_the_site_photo(plant, work_type):
    permit = make(work_type)
    clock = clock_for(permit)
    at_start(permit, clock, photos=False)
    if template.get(work_type).step("start").gates.gas_fresh:
        gas_test(permit, clock.tick())
    (kind,) = template.get(work_type).step("start").gates.photos
    with refused(GateNotMet, f"缺少现场照片：{kind}", permit):
        start_work(permit, clock.tick())
    attach(permit.no, by=permit.applicant, kind=kind, data=b"photo", filename="p.jpg", now=clock.tick())
    assert start_work(permit, clock.tick()).state == "in_progress"


# --- 11. certificates (持证上岗), checked by the certificate registry the product ships ---

def set_certificate_end(number: str, day: date) -> None:
    """Change when a registered certificate ends, as an administrator's re-import would."""
    assert Certificate.update(valid_until=day).where(Certificate.number == number).execute() == 1


def test_an_expired_certificate_blocks_the_start(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    gas_test(permit, clock.tick())
    set_certificate_end("HJ-jianghan", date(2026, 10, 1))
    with refused(GateNotMet, "蒋焊（作业人）的焊接与热切割证（HJ-jianghan）已于 2026-10-01 过期", permit):
        start_work(permit, clock.tick())
    set_certificate_end("HJ-jianghan", date(2030, 1, 1))
    assert start_work(permit, clock.tick()).state == "in_progress"


# --- 12. only the assigned person signs, only the active step, only once ---

def test_only_an_assignee_may_sign(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    check_in(permit.no, by=find_person("qiananping"), now=clock.tick())
    with refused(NotAuthorized, "钱安平不是“基层单位审批”的签字人，应由 吴海、施文 签字", permit):
        sign(permit.no, "approve_unit", by=find_person("qiananping"), now=clock.tick())


def test_a_step_that_is_not_active_cannot_be_signed(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    check_in(permit.no, by=find_person("qiananping"), now=clock.tick())
    with refused(InvalidTransition, "“安全管理部门审批”现在不能签字，当前步骤：基层单位审批", permit):
        sign(permit.no, "approve_safety", by=find_person("qiananping"), now=clock.tick())


def test_a_done_step_names_who_signed_it_and_when(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    arrived = clock.tick()
    approve(permit, "approve_unit", "wuhai", arrived)
    signed = local(arrived + minutes(1), settings.current().plant_tz)
    check_in(permit.no, by=find_person("shiwen"), now=clock.tick())
    with refused(AlreadySigned, f"基层单位审批：已由 吴海 于 {signed:%m-%d %H:%M} 同意", permit):
        sign(permit.no, "approve_unit", by=find_person("shiwen"), now=clock.tick())


# --- hazard analysis comes before the permit is issued ---

def test_the_hazard_analysis_needs_every_item_ticked(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "assess", clock)
    items = list(template.get("hot_work").step("assess").checklist)
    with refused(GateNotMet, f"以下项目未勾选：{items[-1]}", permit):
        sign(permit.no, "assess", by=find_person("wangping"), ticks=items[:-1], now=clock.tick())


# --- rules pinned where a single realistic mutation of the enforcing code once went unnoticed ---

def test_hot_work_running_into_a_holiday_is_raised(plant):
    # Starts on a working day (Tuesday) and runs into the configured holiday: the whole window counts.
    settings.configure({"PLANT_HOLIDAYS": "2026-11-25"})
    permit = hot("二级", start=shanghai(24, 8), hours=28, night_work="否")
    with refused(InvalidPermit, "一级动火作业（因节假日、公休日作业升级）作业票有效期不超过 8 小时", permit):
        submitted(permit)
    # The same window a week later touches no holiday and stays 二级.
    assert submitted(hot("二级", start=shanghai(17, 8), hours=28, night_work="否")).grade == "二级"


def test_hot_work_running_into_a_weekend_is_raised(plant):
    permit = hot("二级", start=shanghai(27, 8), hours=28, night_work="否")   # Friday into Saturday
    with refused(InvalidPermit, "因节假日、公休日作业升级", permit):
        submitted(permit)


# The approver GB 30871-2022 names for each work type and grade (RULES.md), written out here so
# that a change to workflow/rules.py cannot quietly lower the floor every template is checked against.
STATUTORY_APPROVERS = {
    "hot_work": {"特级": "主管领导", "一级": "安全管理部门负责人", "二级": "基层单位负责人"},
    "confined_space": {UNGRADED: "基层单位负责人"},
    "blind_plate": {UNGRADED: "基层单位负责人"},
    "height": {"Ⅰ": "基层单位负责人", "Ⅱ": "专业部门负责人", "Ⅲ": "专业部门负责人", "Ⅳ": "主管领导"},
    "lifting": {"一级": "主管领导", "二级": "专业部门负责人", "三级": "专业部门负责人"},
    "temp_power": {UNGRADED: "配送电单位负责人"},
    "excavation": {UNGRADED: "专业部门负责人"},
    "road_closure": {UNGRADED: "专业部门负责人"},
}


def test_every_statutory_approver_is_the_one_gb_30871_names():
    from workflow.rules import STATUTES
    assert {code: dict(s.approver) for code, s in STATUTES.items()} == STATUTORY_APPROVERS


def test_a_role_holder_not_assigned_to_this_permit_may_not_sign(plant):
    # 秦川 heads unit U2: she holds the step's role, but the permit belongs to U1.
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    qinchuan = find_person("qinchuan")
    assert "基层单位负责人" in qinchuan.role_names()
    check_in(permit.no, by=qinchuan, now=clock.tick())
    with refused(NotAuthorized, "秦川不是“基层单位审批”的签字人，应由 吴海、施文 签字", permit):
        sign(permit.no, "approve_unit", by=qinchuan, now=clock.tick())


@pytest.mark.parametrize("state", ["issued", "in_progress", "suspended"])
def test_a_second_blind_plate_permit_is_refused_while_the_first_is_open(plant, state):
    first = make("blind_plate", blind_no="MB-P12-03", action="堵")
    clock = clock_for(first)
    drive_to(first, "start" if state == "issued" else "complete", clock)
    if state == "suspended":
        suspend(first.no, by=find_person("chuwei"), reason="临时停电", now=clock.tick())
    assert reload(first).state == state
    second = make("blind_plate", blind_no="MB-P12-03", action="堵")
    with refused(InvalidPermit, f"已有未关闭的作业票 {first.no}", second):
        submitted(second)


def test_work_does_not_start_at_the_planned_end_itself(plant):
    permit = hot("一级", hours=2)
    clock = clock_for(permit)
    at_start(permit, clock)
    end = permit.planned_end
    gas_test(permit, end - minutes(5))
    on_site(permit, end - minutes(5))
    with refused(GateNotMet, "作业票已过有效期", permit):
        start_work(permit, end)
    assert start_work(permit, end - minutes(1)).state == "in_progress"


def test_a_gas_sample_30_and_a_half_minutes_old_is_refused(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    tested = clock.now
    gas_test(permit, tested)
    with refused(GateNotMet, "超过 30 分钟，请重新检测", permit):
        start_work(permit, tested + minutes(30.5))


def test_a_gas_sample_exactly_30_minutes_old_passes(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    tested = clock.now
    gas_test(permit, tested)
    on_site(permit, tested + minutes(1))
    assert start_work(permit, tested + minutes(30)).state == "in_progress"


def test_a_check_in_exactly_30_minutes_old_counts(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    wuhai, arrived = find_person("wuhai"), clock.tick()
    check_in(permit.no, by=wuhai, now=arrived)
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=wuhai, now=arrived + minutes(30.5))
    sign(permit.no, "approve_unit", by=wuhai, now=arrived + minutes(30))
    assert machine.active_step(permit).key == "approve_safety"


@pytest.mark.parametrize("work_type, grade, limit", [
    ("hot_work", "一级", 30), ("hot_work", "二级", 60), ("confined_space", None, 60)])
def test_a_pause_of_exactly_the_limit_needs_no_new_gas_test(plant, work_type, grade, limit):
    permit = make(work_type, **({"declared_grade": grade} if grade else {}))
    clock = clock_for(permit)
    working(permit, clock)
    guardian, paused = find_person("chuwei"), clock.tick()
    suspend(permit.no, by=guardian, reason="临时停电", now=paused)
    detector_reports(permit, paused + minutes(limit - 1))
    assert resume(permit.no, by=guardian, now=paused + minutes(limit)).state == "in_progress"


@pytest.mark.parametrize("work_type, grade, limit", [
    ("hot_work", "一级", 30), ("hot_work", "二级", 60), ("confined_space", None, 60)])
def test_a_pause_half_a_minute_past_the_limit_needs_a_new_gas_test(plant, work_type, grade, limit):
    permit = make(work_type, **({"declared_grade": grade} if grade else {}))
    clock = clock_for(permit)
    working(permit, clock)
    guardian, paused = find_person("chuwei"), clock.tick()
    suspend(permit.no, by=guardian, reason="临时停电", now=paused)
    with refused(GateNotMet, "没有暂停后气体分析记录", permit):
        resume(permit.no, by=guardian, now=paused + minutes(limit + 0.5))
