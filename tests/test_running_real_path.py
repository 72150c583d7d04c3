"""Rules for work left running, end to end on both platforms: the scheduler's job on a real Redis,
run by an rq worker with the test's clock, reaches the phones through the real SDK clients."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rq import Queue

from handlers.demo.scripted import take_through
from jobs import scans
from jobs.connection import redis
from models import GasReading
from models.permit import Permit

from tests.test_wecom_real_path import a_detector, apply_text
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
    # The 2 hours run from the newest logged reading, or from the start if that came later.
    last = max(GasReading.select().order_by(GasReading.taken_at.desc()).first().taken_at, permit.started_at)
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

