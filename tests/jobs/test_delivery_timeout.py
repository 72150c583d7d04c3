"""A send whose answer times out outlives its lease: the row goes to a second worker, and what the first
one learns late must not undo what the second did. Real path: a detector's post -> the app -> the outbox
-> the real SDK client -> the sandbox, which holds the first call past the client's read timeout."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests

from jobs import delivery
from models import Alarm, Outbox, Person, utcnow

from tests.jobs.test_alarm_lane import ALARMING, FAULT_API, detector, wait_for
from tests.worlds import world as a_world

# Longer than the platform clients' read timeout (10 s), so the first send's answer never comes.
PAST_THE_TIMEOUT = 11


@pytest.fixture(params=["wecom", "dingtalk"])
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def test_a_send_that_timed_out_after_its_row_was_sent_by_another_worker_leaves_the_row_sent(world):
    answer = detector(world).post(ALARMING)
    assert answer.status_code == 200, answer.text
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    row = Outbox.select().where(Outbox.dedupe_key.startswith(f"alarm:{alarm.id}:1:")).order_by(Outbox.id).first()
    user = Person.get_by_id(row.person_id).wecom_userid
    requests.post(f"{world.sandbox}/sandbox/faults", json={"api": FAULT_API[world.platform],
                                                           "delay": PAST_THE_TIMEOUT, "times": 1})
    first: list[str] = []
    slow = threading.Thread(target=lambda: first.append(delivery.deliver(row.id)))
    slow.start()
    # The platform holds the first call; meanwhile its lease runs out and the sweep presumes the worker dead.
    wait_for(lambda: not requests.get(f"{world.sandbox}/sandbox/faults").json()["faults"],
             "the first send never reached the platform")
    Outbox.update(lease_until=utcnow() - timedelta(seconds=1)).where(Outbox.id == row.id).execute()
    assert row.id in delivery.due_rows()
    assert delivery.deliver(row.id) == "sent"   # a second worker, while the first still waits
    slow.join()

    after = Outbox.get_by_id(row.id)
    assert (after.state, after.attempts) == ("sent", 2), after.last_error
    assert first == ["superseded"]   # its read timed out; the row was no longer its to change
    world.drain()
    cards = [m for m in world.phone.messages(user) if m.get("task_id", "").endswith(f"-n{row.id}")]
    assert len(cards) == 1
    assert Outbox.get_by_id(row.id).state == "sent"
