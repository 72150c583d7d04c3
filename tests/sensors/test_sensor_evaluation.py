"""What a detector's reading does to the permits it watches: the gas gate, alarms, suspension,
resumption; and the same for a tester's manual reading, and the start gate's continuous monitoring.

Readings go through intake.verify (signed with the detector's secret) and intake.ingest at the
test's clock; the HTTP layer itself is covered in test_sensor_post.py.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Alarm, GasReading, Outbox, Sensor
from models.sensor import FIXED
from sensors import watch
from tests.sensors.conftest import accounts, reload, who
from workflow import GateNotMet, attach, audit, engine, gates, record_gas, resume, template
from workflow.walkthrough import PASSING_GAS


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def alarm_cards(alarm: Alarm):
    return [row for row in Outbox.select().where(Outbox.kind == "alarm") if row.payload["alarm"] == alarm.id]


# --- the gas gate ---

def test_a_passing_complete_detector_reading_opens_the_gas_gate_for_30_minutes(site):
    permit = site.issued("confined_space")
    t = template.get("confined_space")
    site.bind(permit, site.detector("GD-0001"))
    at = site.clock.tick() + minutes(40)          # the tester's analysis is stale by now
    with pytest.raises(GateNotMet, match="超过 30 分钟"):
        gates.gas_fresh(permit, t, at)
    site.report("GD-0001", at)
    reading = GasReading.get(GasReading.device == "GD-0001")
    assert (reading.permit_id, reading.passed) == (permit.id, True)
    gates.gas_fresh(permit, t, at + minutes(1))
    gates.gas_fresh(permit, t, at + minutes(30))
    with pytest.raises(GateNotMet, match="31 分钟前，超过 30 分钟"):
        gates.gas_fresh(permit, t, at + minutes(31))


def test_a_detector_measuring_fewer_gases_neither_opens_nor_fails_the_gate(site):
    permit = site.issued("confined_space")           # needs O2, EX, H2S and CO
    t = template.get("confined_space")
    site.bind(permit, site.detector("GD-0002", gases=["O2", "EX"]))
    tested = site.clock.tick()
    record_gas(permit.no, by=who("chenjian"), values=PASSING_GAS, now=tested)
    site.report("GD-0002", tested + minutes(5))
    site.report("GD-0002", tested + minutes(25), O2=20.5, EX=2.0)
    partial = list(GasReading.select().where(GasReading.device == "GD-0002"))
    assert [r.passed for r in partial] == [None, None]
    # Not a failure: the tester's pass still holds ...
    gates.gas_fresh(permit, t, tested + minutes(26))
    # ... and not a pass: it does not keep the gate open past the tester's 30 minutes.
    with pytest.raises(GateNotMet, match="超过 30 分钟"):
        gates.gas_fresh(permit, t, tested + minutes(31))


def test_a_partial_reading_outside_the_limits_fails_the_gate(site):
    permit = site.issued("confined_space")
    site.bind(permit, site.detector("GD-0002", gases=["O2", "EX"]))
    tested = site.clock.tick()
    record_gas(permit.no, by=who("chenjian"), values=PASSING_GAS, now=tested)
    site.report("GD-0002", tested + minutes(2), EX=20.0)   # methane: 1.0 %vol, over 0.5; no alarm yet
    assert GasReading.get(GasReading.device == "GD-0002").passed is False
    with pytest.raises(GateNotMet, match="不合格"):
        gates.gas_fresh(permit, template.get("confined_space"), tested + minutes(3))


def test_a_fixed_detector_watches_the_permits_at_its_area_without_binding(site):
    permit = site.issued("confined_space")                    # at 常减压装置 V-101
    site.detector("GD-0101", kind=FIXED, area="常减压装置V-101")
    site.detector("GD-0102", kind=FIXED, area="3#罐区")
    at = site.clock.tick()
    site.report("GD-0101", at)
    site.report("GD-0102", at)
    assert [s.code for s in watch.sensors_of(permit)] == ["GD-0101"]
    readings = {r.device: r.permit_id for r in GasReading.select().where(GasReading.device.startswith("GD-"))}
    assert readings == {"GD-0101": permit.id, "GD-0102": None}
    assert watch.monitoring_problems(permit, at=at) == []


# --- alarms ---

@pytest.mark.parametrize("unit, officer", [(None, "zhuyan"), ("安全环保部", "sunli")],
                         ids=["permit-unit", "detector-unit"])
def test_a_first_alarm_reaches_everyone_on_the_permit_and_the_units_safety_officer(site, unit, officer):
    permit = site.issued("confined_space")          # not running: only the detector's level counts
    site.bind(permit, site.detector("GD-0001", unit=unit))
    at = site.clock.tick()
    result = site.report("GD-0001", at, EX=30.0)
    alarm = Alarm.get()
    assert result.alarms == (alarm.id,) and result.suspended == ()
    assert (alarm.level, alarm.gas, alarm.value, alarm.device) == ("一级", "EX", 30.0, "GD-0001")
    assert alarm.permit_nos == [permit.no] and alarm.suspended == []
    assert reload(permit).state == "issued"
    # zhuyan applied; jianghan and shenli work; chuwei guards; wuhai approved.
    expected = {"zhuyan", "jianghan", "shenli", "chuwei", "wuhai", officer}
    cards = alarm_cards(alarm)
    assert accounts(row.person for row in cards) == expected
    assert len(cards) == len(expected)
    assert {row.payload["round"] for row in cards} == {1}
    assert all(row.permit_no == permit.no for row in cards)
    assert sorted(alarm.recipients) == sorted(row.person_id for row in cards)


def test_readings_at_the_same_level_raise_no_second_alarm(site):
    permit = site.issued("confined_space")
    site.bind(permit, site.detector("GD-0001"))
    at = site.clock.tick()
    site.report("GD-0001", at, EX=30.0)
    cards = Outbox.select().count()
    for seconds, ex in ((60, 30.0), (120, 45.0), (180, 26.0)):
        assert site.report("GD-0001", at + timedelta(seconds=seconds), EX=ex).alarms == ()
    assert Alarm.select().count() == 1
    assert Outbox.select().count() == cards
    assert GasReading.select().where(GasReading.device == "GD-0001").count() == 4


def test_a_second_alarm_suspends_running_work_and_a_normal_reading_clears_it(site):
    permit = site.running("confined_space")
    walk = site.walk_detector()
    at = site.clock.tick()
    first = site.report(walk, at, H2S=12.0)          # over the 10 mg/m³ limit: the work stops
    second = site.report(walk, at + minutes(1), H2S=25.0)
    assert first.suspended == (permit.no,) and second.suspended == ()
    levels = [a.level for a in Alarm.select().order_by(Alarm.id)]
    assert levels == ["超限", "二级"]
    alarm = Alarm.get(Alarm.level == "二级")
    assert alarm.permit_nos == [permit.no]
    assert reload(permit).state == "suspended"
    assert Alarm.select().where(Alarm.cleared_at.is_null()).count() == 2
    cleared_at = at + minutes(2)
    site.report(walk, cleared_at)
    assert [a.cleared_at for a in Alarm.select()] == [cleared_at, cleared_at]


def test_a_second_alarm_on_running_work_lists_the_permit_it_suspended(site):
    permit = site.running("confined_space")
    result = site.report(site.walk_detector(), site.clock.tick(), H2S=25.0)
    alarm = Alarm.get()
    assert (alarm.level, alarm.suspended, result.suspended) == ("二级", [permit.no], (permit.no,))
    assert reload(permit).state == "suspended"
    # The alarm card is the stop order: the engine sends no cards of its own for this suspension.
    assert not Outbox.select().where(Outbox.kind == "stop").exists()
    assert accounts(row.person for row in alarm_cards(alarm)) == {"zhuyan", "jianghan", "shenli",
                                                                   "chuwei", "wuhai"}


def test_the_guardian_resumes_only_after_a_fresh_passing_detector_reading(site):
    permit = site.running("confined_space")
    walk = site.walk_detector()
    at = site.clock.tick()
    site.report(walk, at, H2S=25.0)
    guardian = who("chuwei")
    with pytest.raises(GateNotMet, match="最近一次气体分析不合格"):
        resume(permit.no, by=guardian, now=at + minutes(2))
    site.report(walk, at + minutes(3), H2S=15.0)     # still failing
    with pytest.raises(GateNotMet, match="不合格"):
        resume(permit.no, by=guardian, now=at + minutes(4))
    assert reload(permit).state == "suspended"
    site.report(walk, at + minutes(5))
    assert resume(permit.no, by=guardian, now=at + minutes(6)).state == "in_progress"
    assert audit.verify().ok


# --- a tester's manual reading ---

def test_a_manual_reading_past_the_second_alarm_suspends_and_alarms_without_a_device(site):
    permit = site.running("hot_work")
    at = site.clock.tick()
    out = record_gas(permit.no, by=who("chenjian"), values={"EX": 0.0, "H2S": 25.0}, now=at)
    assert out.state == "suspended"
    alarm = Alarm.get()
    assert (alarm.device, alarm.sensor, alarm.level, alarm.gas, alarm.value) == (None, None, "二级", "H2S", 25.0)
    assert alarm.suspended == [permit.no] and alarm.text.startswith("人工检测")
    # The alarm card tells everyone to stop; approvers of 一级 hot work are wuhai and qiananping.
    assert accounts(row.person for row in alarm_cards(alarm)) == {"zhuyan", "jianghan", "shenli", "chuwei",
                                                                   "wuhai", "qiananping"}


# --- the start gate ---

def test_confined_space_cannot_start_without_a_bound_reporting_detector(site):
    permit = site.issued("confined_space")
    site.clock.now = max(site.clock.now, permit.planned_start)
    attach(permit.no, by=permit.applicant, kind="通风设施", data=b"fan", filename="fan.jpg",
           now=site.clock.tick())
    record_gas(permit.no, by=who("chenjian"), values=PASSING_GAS, now=site.clock.tick())
    guardian = who("chuwei")
    site.on_site(permit, site.clock.tick())
    with pytest.raises(GateNotMet, match="连续监测：未绑定检测仪"):
        engine.start(permit.no, by=guardian, now=site.clock.tick())
    detector = site.detector("GD-0001")
    site.bind(permit, detector)
    with pytest.raises(GateNotMet, match="连续监测：检测仪 GD-0001 未在上报"):
        engine.start(permit.no, by=guardian, now=site.clock.tick())
    assert reload(permit).state == "issued"
    site.report(detector, site.clock.tick())
    assert engine.start(permit.no, by=guardian, now=site.clock.tick()).state == "in_progress"


def test_a_disabled_detector_does_not_count_as_monitoring(site):
    permit = site.issued("confined_space")
    detector = site.detector("GD-0001")
    site.bind(permit, detector)
    at = site.clock.tick()
    site.report(detector, at)
    assert watch.monitoring_problems(permit, at=at) == []
    Sensor.update(enabled=False).where(Sensor.id == detector.id).execute()
    (problem,) = watch.monitoring_problems(permit, at=at)
    assert "未绑定检测仪" in problem
