"""Work left running: stopped at nightfall, a confined-space reading every 2 h, re-tested every new day.

The scans run with the test's clock, as the scheduler's job passes its own; the engine's commands
around them (start, gas test, resume) take the same clock.
"""
from __future__ import annotations

from datetime import date, time

import pytest

import settings
from models import AuditEvent, GasReading, Outbox, Sensor, find_person
from models.permit import Permit
from sensors import intake
from workflow import GateNotMet, running, template
from workflow.grading import nightfall_at
from workflow.template import load_file
from workflow.walkthrough import WALK_DETECTOR

from tests.workflow.test_rules import (clock_for, detector_reports, gas_test, hot, make, minutes, refused,
                                       reload, shanghai, working)
from tests.workflow.test_templates import refused as template_refused, variant


def texts(permit: Permit, kind: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in Outbox.select().where((Outbox.permit_no == permit.no) & (Outbox.kind == kind)):
        found.setdefault(row.person.name, []).append(row.payload["text"])
    return found


def day_work(hours: float = 48) -> Permit:
    """A 二级 hot-work permit declared as day work only, started on the morning of 24 November."""
    permit = hot("二级", start=shanghai(24, 8), hours=hours, night_work="否")
    working(permit, clock_for(permit))
    return reload(permit)


# --- nightfall ---

def test_day_work_is_suspended_at_nightfall_and_everyone_on_it_is_told(plant):
    permit = day_work()
    assert running.nightfall_due(shanghai(24, 18) - minutes(1)) == []
    (done,) = running.nightfall_due(shanghai(24, 18))
    assert (done.permit_no, reload(permit).state) == (permit.no, "suspended")
    stop = texts(permit, "stop")
    assert set(stop) == {"蒋焊", "沈力", "褚卫"}
    assert "已到夜间（18:00 起），本作业票申报夜间不作业" in stop["褚卫"][0]
    assert "已暂停" in texts(permit, "info")["朱岩"][0]
    assert running.nightfall_due(shanghai(24, 18) + minutes(1)) == []   # once only


def test_work_not_declared_as_day_work_goes_on_at_nightfall(plant):
    night = make("confined_space", start=shanghai(24, 12), hours=12)   # no day-work declaration
    working(night, clock_for(night))
    assert running.nightfall_due(shanghai(24, 19)) == []
    assert reload(night).state == "in_progress"


def test_the_nightfall_follows_the_season(plant):
    settings.configure({"PLANT_NIGHTFALL": "04-01=19:00,10-01=17:30"})
    permit = day_work()
    assert running.nightfall_due(shanghai(24, 17) + minutes(29)) == []
    assert [o.state for o in running.nightfall_due(shanghai(24, 17) + minutes(30))] == ["suspended"]
    assert "（17:30 起）" in texts(permit, "stop")["褚卫"][0]


def test_a_new_season_s_nightfall_holds_from_its_first_day(plant):
    settings.configure({"PLANT_NIGHTFALL": "04-01=19:00,10-01=17:30"})
    seasons, t = settings.current().nightfall, template.get("hot_work")
    days = (date(2026, 3, 31), date(2026, 4, 1), date(2026, 9, 30), date(2026, 10, 1))
    assert [nightfall_at(day, t, seasons) for day in days] == [time(17, 30), time(19), time(19), time(17, 30)]


def test_a_malformed_nightfall_setting_is_refused_at_start():
    with pytest.raises(SystemExit, match="PLANT_NIGHTFALL: '25:00'"):
        settings.configure({"PLANT_NIGHTFALL": "25:00"})
    settings.configure()


def test_work_stopped_at_nightfall_resumes_next_morning_after_a_fresh_gas_test(plant):
    permit = day_work()
    running.nightfall_due(shanghai(24, 18))
    gas_test(permit, shanghai(24, 22))
    for at in (shanghai(24, 22) + minutes(5), shanghai(25, 5) + minutes(59)):   # the night runs till 06:00
        with refused(GateNotMet, "申报夜间不作业", permit):
            running_resume(permit, at)
    with refused(GateNotMet, "最近一次合格的气体分析在 540 分钟前，超过 30 分钟，请重新检测", permit):
        running_resume(permit, shanghai(25, 7))   # last night's test does not count this morning
    gas_test(permit, shanghai(25, 7) + minutes(5))
    assert running_resume(permit, shanghai(25, 7) + minutes(10)).state == "in_progress"


def running_resume(permit: Permit, at):
    from workflow import resume
    return resume(permit.no, by=find_person("chuwei"), now=at)


# --- a logged reading every 2 hours in a confined space ---

def confined() -> tuple[Permit, object]:
    permit = make("confined_space", hours=12)
    clock = clock_for(permit)
    working(permit, clock)
    return reload(permit), clock


def test_a_confined_space_without_a_reading_for_2_hours_is_reminded_then_suspended(plant):
    permit, clock = confined()
    last = running._last_logged(permit, clock.now)
    assert running.readings_due(last + minutes(104)) == []
    (reminded,) = running.readings_due(last + minutes(105))
    assert reminded.state == "in_progress"
    told = texts(permit, "info")
    assert {"陈检", "褚卫"} <= set(told)
    assert "须每 2 小时记录一次气体检测数据" in told["陈检"][-1]
    assert running.readings_due(last + minutes(110)) == []              # reminded once
    assert running.readings_due(last + minutes(120)) == []              # the limit itself passes
    (stopped,) = running.readings_due(last + minutes(120.5))
    assert stopped.state == "suspended"
    assert "超过 2 小时没有气体检测记录" in texts(permit, "stop")["褚卫"][0]
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.permit_no == permit.no)]
    assert actions[-2:] == ["remind_reading", "suspend"]


def test_a_logged_reading_restarts_the_2_hours(plant):
    permit, clock = confined()
    last = running._last_logged(permit, clock.now)
    gas_test(permit, last + minutes(100))
    assert running.readings_due(last + minutes(150)) == []
    assert reload(permit).state == "in_progress"
    assert [o.state for o in running.readings_due(last + minutes(221))] == ["suspended"]


def test_hot_work_needs_no_2_hourly_reading(plant):
    permit = hot("一级")
    working(permit, clock_for(permit))
    assert template.get("hot_work").gas.log_every_minutes is None
    assert running.readings_due(reload(permit).started_at + minutes(200)) == []


@pytest.mark.parametrize("edit, fragment", [
    ("log_every_minutes = 150", "gas.log_every_minutes = 150: looser than GB 30871-2022 第6章"),
    ("", "gas.log_every_minutes = None: looser than"),
])
def test_a_looser_reading_interval_is_refused_at_load(tmp_path, edit, fragment):
    path = variant(tmp_path, "confined_space", ("log_every_minutes = 120", edit))
    template_refused(path, fragment, "至少每 2 小时记录一次")


def test_a_tighter_reading_interval_loads(tmp_path):
    path = variant(tmp_path, "confined_space", ("log_every_minutes = 120", "log_every_minutes = 60"))
    assert load_file(path).gas.log_every_minutes == 60


# --- a fresh gas test at the start of every working day ---

def overnight() -> Permit:
    permit = make("confined_space", start=shanghai(24, 8), hours=24)
    working(permit, clock_for(permit))
    return reload(permit)


def test_work_running_into_a_new_day_is_held_until_a_fresh_reading(plant):
    permit = overnight()
    gas_test(permit, shanghai(24, 22) + minutes(30))   # the 2-hourly reading keeps it going till midnight
    assert running.day_holds_due(shanghai(24, 23) + minutes(59)) == []
    (held,) = running.day_holds_due(shanghai(25, 0) + minutes(1))
    assert held.state == "suspended"
    assert "新的作业日开始，须重新进行气体分析" in texts(permit, "stop")["沈力"][0]
    with refused(GateNotMet, "没有暂停后气体分析记录", permit):
        running_resume(permit, shanghai(25, 0) + minutes(10))   # a short hold still needs today's test
    gas_test(permit, shanghai(25, 0) + minutes(12))
    detector_reports(permit, shanghai(25, 0) + minutes(14))   # monitored work resumes monitored
    assert running_resume(permit, shanghai(25, 0) + minutes(15)).state == "in_progress"
    assert running.day_holds_due(shanghai(25, 1)) == []


def test_a_reading_taken_after_midnight_lets_the_work_go_on(plant):
    permit = overnight()
    gas_test(permit, shanghai(24, 22) + minutes(30))
    gas_test(permit, shanghai(25, 0) + minutes(1))
    assert running.day_holds_due(shanghai(25, 0) + minutes(2)) == []
    assert reload(permit).state == "in_progress"


def test_a_reading_judged_neither_way_is_not_todays_test(plant):
    permit = overnight()
    gas_test(permit, shanghai(24, 22) + minutes(30))
    at = shanghai(25, 0) + minutes(1)
    # The bound detector reports oxygen alone: it cannot open the gas gate, nor does it fail the air.
    intake.ingest(Sensor.get(Sensor.code == WALK_DETECTOR), [intake.Reading(at, {"O2": 20.9})], now=at)
    assert GasReading.get((GasReading.permit == permit) & (GasReading.taken_at == at)).passed is None
    (held,) = running.day_holds_due(at + minutes(1))
    assert held.state == "suspended"


def test_work_started_today_is_not_held(plant):
    permit = make("confined_space", start=shanghai(25, 1), hours=6)
    working(permit, clock_for(permit))
    assert running.day_holds_due(shanghai(25, 2)) == []
