"""Rules for work left running, end to end on both platforms: the scheduler's job on a real Redis,
run by an rq worker with the test's clock, reaches the phones through the real SDK clients; what
people answer in chat (a gas test, 恢复) goes through the callbacks at an hour the test sets."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rq import Queue

from handlers.demo.scripted import GOOD_AIR, take_through
from jobs import scans
from jobs.connection import redis
from models import GasReading, utcnow
from models.permit import Permit
from workflow import machine
from workflow.running import day_start
from workflow.walkthrough import Clock

from tests.test_wecom_real_path import a_detector, apply_text
from tests.workflow.test_rules import clock_for, hot, minutes, reload, shanghai, working
from tests.worlds import world as a_world


@pytest.fixture(params=["wecom", "dingtalk"])
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w.phone, w.drain


def scan_at(drain, moment: datetime) -> None:
    """Enqueue the scheduler's running-rules job for the test's clock; a worker runs it and delivers."""
    Queue("default", connection=redis()).enqueue(scans.running_rules, moment.isoformat())
    drain()   # the worker runs the job, which writes the outbox rows
    drain()   # and the rows go out, as the scan's own sweep sends them


def texts(phone, user: str) -> list[str]:
    return [str(m) for m in phone.messages(user)]   # a text, or a card as sent and as it stands


def test_a_confined_space_without_a_reading_for_2_hours_is_reminded_then_stopped(world):
    phone, drain = world
    phone.text("zhuyan", apply_text("受限空间作业", "介质: 甲烷\n受限空间名称: V-101 原料罐"))
    drain()
    permit = take_through(phone, Permit.get().no, drain, until="in_progress", detector=a_detector(phone))
    # The 2 hours run from the newest logged reading, or from the start if that came later. Scans two
    # hours after a late-evening start would cross the plant's midnight and meet the daily re-test
    # first: the start and its readings move to 08:00 of the plant's day, which the scans then follow.
    last = day_start(utcnow()) + timedelta(hours=8)
    Permit.update(started_at=last).where(Permit.id == permit.id).execute()
    GasReading.update(taken_at=last - timedelta(minutes=5)).where(GasReading.permit == permit.id).execute()
    scan_at(drain, last + timedelta(minutes=100))
    assert not any("2 小时记录" in t for t in texts(phone, "chenjian"))
    scan_at(drain, last + timedelta(minutes=106))
    for user in ("chenjian", "chuwei"):   # the gas tester and the guardian
        assert any("须每 2 小时记录一次气体检测数据" in t for t in texts(phone, user)), user
    scan_at(drain, last + timedelta(minutes=110))                     # one reminder, not one per scan
    assert sum("2 小时记录" in t for t in texts(phone, "chenjian")) == 1
    scan_at(drain, last + timedelta(minutes=121))
    assert Permit.get(Permit.no == permit.no).state == "suspended"
    for user in ("jianghan", "shenli", "chuwei"):
        assert any("超过 2 小时没有气体检测记录" in t for t in texts(phone, user)), user



# --- nightfall and the daily re-test: a scan stops the work, people act in chat at the test's hour ---

@pytest.fixture
def engine_clock(monkeypatch):
    """The hour the engine reads for what people do in chat, set by the test (a scan takes its own).

    The story spans an evening and the next morning; every command reads the time where it begins,
    so the test sets that clock rather than waiting for the night.
    """
    clock = Clock(shanghai(24, 6))
    monkeypatch.setattr(machine, "utcnow", lambda: clock.now)
    return clock


def running(**kwargs) -> Permit:
    """A hot-work permit driven to 作业中 through the engine at its own planned hours."""
    permit = hot("二级", **kwargs)
    return working(permit, clock_for(permit))


def chat(phone, drain, clock: Clock, moment: datetime, user: str, text: str) -> str:
    """Type text in user's chat at moment (the engine's clock); return the reply."""
    clock.now = moment
    phone.text(user, text)
    drain()
    return texts(phone, user)[-1]


def about(phone, user: str, no: str, words: str) -> list[str]:
    return [t for t in texts(phone, user) if no in t and words in t]


def test_day_work_stops_at_nightfall_and_resumes_next_morning_only_after_a_fresh_test(world, engine_clock):
    phone, drain = world
    day = running(start=shanghai(24, 8), hours=48, night_work="否")
    night = running(start=shanghai(24, 12), hours=8, night_work="是")   # raised to 一级, runs till 20:00
    drain()
    scan_at(drain, shanghai(24, 18) - minutes(1))
    assert reload(day).state == "in_progress"
    scan_at(drain, shanghai(24, 18))
    assert (reload(day).state, reload(night).state) == ("suspended", "in_progress")
    for user in ("jianghan", "shenli", "chuwei"):   # the crew and the guardian, on their phones
        assert about(phone, user, day.no, "已到夜间（18:00 起），本作业票申报夜间不作业"), user
        assert not about(phone, user, night.no, "已到夜间"), user
    assert about(phone, "zhuyan", day.no, "已暂停")   # and the applicant
    scan_at(drain, shanghai(24, 18) + minutes(30))
    assert len(about(phone, "chuwei", day.no, "已到夜间")) == 1   # told once

    resume = f"恢复 {day.no}"
    assert "申报夜间不作业" in chat(phone, drain, engine_clock, shanghai(25, 5) + minutes(59), "chuwei", resume)
    assert "没有暂停后气体分析记录" in chat(phone, drain, engine_clock, shanghai(25, 7), "chuwei", resume)
    assert reload(day).state == "suspended"
    chat(phone, drain, engine_clock, shanghai(25, 7) + minutes(5), "chenjian", f"气体检测 {day.no} {GOOD_AIR}")
    assert "已恢复作业" in chat(phone, drain, engine_clock, shanghai(25, 7) + minutes(10), "chuwei", resume)
    assert reload(day).state == "in_progress"
    assert about(phone, "jianghan", day.no, "恢复作业")


def test_work_left_running_past_midnight_is_held_until_a_fresh_reading(world, engine_clock):
    phone, drain = world
    night = running(start=shanghai(24, 20), hours=8, night_work="是")   # 一级 night work, 20:00–04:00
    drain()
    scan_at(drain, shanghai(24, 23) + minutes(59))
    assert reload(night).state == "in_progress"
    scan_at(drain, shanghai(25, 0) + minutes(1))
    assert reload(night).state == "suspended"
    for user in ("jianghan", "shenli", "chuwei"):
        assert about(phone, user, night.no, "新的作业日开始，须重新进行气体分析"), user

    resume = f"恢复 {night.no}"
    assert "没有暂停后气体分析记录" in chat(phone, drain, engine_clock, shanghai(25, 0) + minutes(10), "chuwei",
                                    resume)   # a hold of minutes still needs today's test
    assert reload(night).state == "suspended"
    chat(phone, drain, engine_clock, shanghai(25, 0) + minutes(12), "chenjian", f"气体检测 {night.no} {GOOD_AIR}")
    assert "已恢复作业" in chat(phone, drain, engine_clock, shanghai(25, 0) + minutes(15), "chuwei", resume)
    scan_at(drain, shanghai(25, 1))   # tested today: not held again
    assert reload(night).state == "in_progress"
