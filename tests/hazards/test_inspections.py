"""Inspection rounds through the engine: each schedule's working times, one round per period, and the
refusals of a submit by another person, of a round already done and of an item not on its list."""
from __future__ import annotations

from datetime import timedelta

import pytest

from exports.inspection_import import load_inspections
from exports.samples.build_sample_inspections import OUT as SAMPLE, TANK_FARM
from hazards import inspections
from models import CheckIn, Finding, Inspection, InspectionPlan, Outbox, find_person
from tests.conftest import MORNING
from tests.emergency.test_emergency_stop import running_at
from workflow import InvalidPermit, InvalidTransition, NotAuthorized
from workflow.walkthrough import Clock

H = timedelta(hours=1)   # MORNING is Tuesday 08:00 at the plant, 00:00 UTC


@pytest.mark.parametrize("schedule, at, window", [
    ("每班", MORNING, (MORNING, MORNING + 8 * H)),
    ("每班", MORNING - 1 * H, (MORNING - 8 * H, MORNING)),                     # 07:00: the night shift's
    ("每班", MORNING + 15 * H, (MORNING + 8 * H, MORNING + 16 * H)),          # 23:00: from 16:00
    ("每日", MORNING + 2 * H, (MORNING, MORNING + 9 * H)),
    ("每日", MORNING + 9 * H, None),                                          # 17:00: the day's is due
    ("每日", MORNING - 1 * H, None),                                          # 07:00: not yet
    ("每周", MORNING + 2 * H, (MORNING - 24 * H, MORNING + 3 * 24 * H + 9 * H)),   # Monday 08:00 to Friday 17:00
    ("每周", MORNING + 4 * 24 * H, None),                                      # Saturday
])
def test_each_schedule_has_its_working_times(plant, schedule, at, window):
    assert inspections.period(schedule, at) == window


@pytest.fixture
def pushed(plant):
    load_inspections(SAMPLE)
    assert inspections.open_due(MORNING + H) == 2          # the tank farm's shift round and hot work's day
    assert inspections.open_due(MORNING + 2 * H) == 0      # a second scan opens nothing
    tank = InspectionPlan.get(InspectionPlan.name == "3#罐区每班巡检")
    return Inspection.get(Inspection.plan == tank)


def test_a_round_is_refused_to_others_before_a_scan_and_once_done(pushed):
    heliang = find_person("heliang")
    assert Outbox.select().where((Outbox.kind == "inspection") & (Outbox.person == heliang)).count() == 1
    with pytest.raises(NotAuthorized, match="由何亮负责"):
        inspections.record(pushed.id, [], by=find_person("sunli"))
    with pytest.raises(InvalidPermit, match="请先到现场扫描3#罐区内作业票的二维码签到"):
        inspections.record(pushed.id, [], by=heliang)
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - 2 * H))
    CheckIn.create(permit=hot, person=heliang, at=MORNING + 2 * H, source="qr", kind="visit")
    with pytest.raises(InvalidPermit, match="巡检表中没有“灭火器”"):
        inspections.record(pushed.id, ["灭火器"], by=heliang)
    done = inspections.record(pushed.id, [], by=heliang, now=MORNING + 3 * H)
    assert (done.state, done.failed, done.findings, Finding.select().count()) == ("done", [], [], 0)
    with pytest.raises(InvalidTransition, match="已于 2026-11-24 11:00 提交"):
        inspections.record(pushed.id, [TANK_FARM[0]], by=heliang)
    assert Finding.select().count() == 0
    assert inspections.remind_due(done.due_at + 2 * H) == 1  # hot work's day round; the done one is not chased
    assert not Outbox.select().where(Outbox.dedupe_key.startswith(f"hazard:inspection:{done.id}:")).exists()


def test_a_check_in_before_the_round_or_elsewhere_proves_nothing(pushed):
    heliang = find_person("heliang")
    elsewhere = running_at("height", "常减压装置 塔区", Clock(MORNING - 2 * H))
    CheckIn.create(permit=elsewhere, person=heliang, at=MORNING + H, source="qr", kind="visit")
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - 2 * H))
    CheckIn.create(permit=hot, person=heliang, at=MORNING - H, source="qr", kind="visit")
    with pytest.raises(InvalidPermit):
        inspections.record(pushed.id, [], by=heliang)


def test_a_plan_whose_inspector_has_left_pushes_no_round(plant):
    from models import Person
    load_inspections(SAMPLE)
    Person.update(active=False).where(Person.id == find_person("heliang").id).execute()
    assert inspections.open_due(MORNING + H) == 1           # hot work's day round alone
    assert not Inspection.select().join(InspectionPlan).where(InspectionPlan.name == "3#罐区每班巡检").exists()
