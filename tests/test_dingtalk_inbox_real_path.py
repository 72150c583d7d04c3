"""DingTalk never sends a Stream CALLBACK frame again: a click kept before its ACK survives a killed process.

The Stream connection runs as `python app.py dingtalk-stream` in a real subprocess, SIGKILLed right
after the gateway saw the click's ACK and before anything handled it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rq import Queue

from models import InboxEvent, Signature
from tests.test_dingtalk_real_path import stream_log, wait_for
from tests.test_wecom_real_path import applied
from tests.worlds import world as a_world

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ding(plant, monkeypatch, redis_conn):
    with a_world("dingtalk", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def _stream_process(w, tmp_path, name: str) -> subprocess.Popen:
    """Start `app.py dingtalk-stream` and return once the gateway holds its connection."""
    before = len(stream_log(w)["closed"]) + len(stream_log(w)["connections"])
    out = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "dingtalk-stream"], cwd=ROOT, env=dict(os.environ),
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(stream_log(w)["closed"]) + len(stream_log(w)["connections"]) > before
                 or proc.poll() is not None, "the stream process connected", seconds=120)   # a cold start under load
        assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
    except BaseException:
        _kill(proc)   # never leave a Stream process behind a failed test
        raise
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_a_click_acked_by_a_process_killed_before_handling_is_applied_once_after_restart(ding, tmp_path):
    permit, card = applied(ding.phone, ding.drain)
    ding.stream.stop()                          # from here the gateway's only listener is the subprocess
    wait_for(lambda: not stream_log(ding)["connections"], "the in-process connection closed")
    first = _stream_process(ding, tmp_path, "first")
    answer = ding.phone.click("zhengji", card)
    assert answer["status"] == 200               # the gateway holds the ACK: the click was kept first
    _kill(first)
    row = InboxEvent.get(InboxEvent.message_id == answer["message_id"])
    assert row.handled_at is None and Signature.select().count() == 0
    # Whether or not the dead process got its job into Redis, Redis is only transport: lose it.
    for name in ("default", "deliver", "alarm"):
        Queue(name, connection=ding_redis()).empty()

    second = _stream_process(ding, tmp_path, "second")   # its start-up sweep enqueues the kept click
    try:
        ding.drain()
        assert Signature.select().where(Signature.decision == "confirm").count() == 1
        assert InboxEvent.get_by_id(row.id).handled_at is not None
        frame = next(f for f in stream_log(ding)["delivered"] if f["messageId"] == answer["message_id"])
        assert len(frame["attempts"]) == 1, "the platform sent the click once and never again"
    finally:
        _kill(second)
    third = _stream_process(ding, tmp_path, "third")     # a handled row is not handled again
    try:
        ding.drain()
        assert Signature.select().count() == 1
        assert InboxEvent.get_by_id(row.id).attempts == 1
    finally:
        _kill(third)


def ding_redis():
    from jobs.connection import redis
    return redis()
