"""The alarm lane's list: each waiting card once, a crashed pop healed by time, depth as operators see it."""
from __future__ import annotations

import pytest

import settings
from jobs import alarm_queue, lanes
from tests.sensors.conftest import redis_url


@pytest.fixture
def lane(monkeypatch, redis_conn, instance):
    monkeypatch.setenv("REDIS_URL", redis_url(redis_conn))
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "90")
    settings.configure()
    yield redis_conn
    settings.configure()


def test_a_card_waits_on_the_list_once_however_often_it_is_pushed(lane):
    assert alarm_queue.push([7, 8]) == 2
    assert alarm_queue.push([8, 7, 9]) == 1
    assert [int(i) for i in lane.lrange(alarm_queue.KEY, 0, -1)] == [7, 8, 9]
    assert alarm_queue.depth() == 3
    assert alarm_queue.pop(block=False) == 7
    # Taken off the list, a card may be pushed again (its send may fail and the sweep bring it back).
    assert alarm_queue.push([7]) == 1
    assert [alarm_queue.pop(block=False) for _ in range(4)] == [8, 9, 7, None]


def test_the_marker_of_a_card_lost_between_pop_and_send_runs_out_with_the_outbox_lease(lane):
    alarm_queue.push([5])
    lane.lpop(alarm_queue.KEY)   # a loop killed right after its BLPOP: the marker stays behind
    assert alarm_queue.push([5]) == 0
    assert 0 < lane.ttl(alarm_queue.MARK + "5") <= 90
    lane.delete(alarm_queue.MARK + "5")   # what the expiry does
    assert alarm_queue.push([5]) == 1


def test_a_serving_loop_counts_as_alive_and_leaves_no_trace_when_it_stops(lane):
    import threading
    stop = threading.Event()
    seen = []

    def watch():
        # The loop says it lives before each wait; stop it once it has.
        while not alarm_queue.alive() and not stop.is_set():
            stop.wait(0.01)
        seen.append(alarm_queue.alive())
        stop.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    lanes.serve_alarms(burst=False, stop=stop)
    watcher.join()
    assert seen == [1] and alarm_queue.alive() == 0
