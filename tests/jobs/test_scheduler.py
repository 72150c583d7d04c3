"""One leader among many schedulers, failover when it dies, scans enqueued once, Redis outages survived."""
import logging
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from redis import Redis
from rq import Queue

import settings
from jobs import scans
from jobs.scheduler import CERT_DAY_KEY, LeaderLock, run, tick
from jobs.unique import enqueue_unique

TZ = ZoneInfo("Asia/Shanghai")
TTL = 20.0


class Clock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(redis_conn) -> Queue:
    return Queue("default", connection=redis_conn)


def locks(redis_conn, clock: Clock, ttl: float = TTL) -> tuple[LeaderLock, LeaderLock]:
    return (LeaderLock(redis_conn, ttl=ttl, token="a", clock=clock),
            LeaderLock(redis_conn, ttl=ttl, token="b", clock=clock))


class Recorder:
    """An enqueue onto a real rq queue that also keeps every attempt, refused or not."""

    def __init__(self, queue: Queue):
        self.queue, self.calls = queue, []

    def __call__(self, func, job_id, **options) -> bool:
        self.calls.append((func.__name__, job_id))
        return enqueue_unique(self.queue, func, job_id, **options)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _at(text: str) -> float:
    """Return the epoch seconds of a plant-local time such as 2026-11-24 09:00."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_of_two_locks_exactly_one_is_acquired(redis_conn, clock):
    a, b = locks(redis_conn, clock)
    assert [a.acquire_or_renew(), b.acquire_or_renew()] == [True, False]
    assert a.holder() == b.holder() == "a"


def test_the_holder_renews_and_the_other_cannot_steal_it(redis_conn, clock):
    a, b = locks(redis_conn, clock)
    assert a.acquire_or_renew()
    for _ in range(3):   # 1.8 ttl in all: the lease would have lapsed without the renewals
        clock.advance(0.6 * TTL)
        assert a.acquire_or_renew()
        assert not b.acquire_or_renew()
    assert b.holder() == "a"
    clock.advance(0.99 * TTL)   # the last renewal counts from when it was made
    assert not b.acquire_or_renew()


def test_when_the_holder_stops_renewing_the_other_takes_over_after_the_ttl(redis_conn, clock):
    a, b = locks(redis_conn, clock)
    assert a.acquire_or_renew()
    clock.advance(TTL - 0.001)
    assert not b.acquire_or_renew()   # a has died, but its lease still runs
    clock.advance(0.001)
    assert b.acquire_or_renew()
    assert not a.acquire_or_renew()   # and a that wakes up finds itself a standby
    assert a.holder() == "b"


def test_the_lease_runs_on_redis_time_when_no_clock_is_given(redis_conn):
    a = LeaderLock(redis_conn, ttl=60, token="a")
    assert a.acquire_or_renew()
    seconds, micros = redis_conn.time()
    until = int(redis_conn.hget("scheduler:leader", "until"))
    assert 0 < until - (seconds * 1000 + micros // 1000) <= 60_000
    assert not LeaderLock(redis_conn, ttl=60, token="b").acquire_or_renew()


def test_release_by_a_non_holder_does_nothing_and_by_the_holder_hands_over(redis_conn, clock):
    a, b = locks(redis_conn, clock)
    assert a.acquire_or_renew()
    assert not b.release()
    assert a.holder() == "a"
    assert a.release()
    assert a.holder() is None
    assert b.acquire_or_renew()


def test_tick_enqueues_the_scan_only_on_the_leader(redis_conn, clock, queue):
    a, b = locks(redis_conn, clock)
    on_a, on_b = Recorder(queue), Recorder(queue)
    now = _at("2026-11-24 06:00")   # before the certificate hour: scans only
    assert tick(a, enqueue=on_a, every=30, now=now, tz=TZ)
    assert not tick(b, enqueue=on_b, every=30, now=now, tz=TZ)
    assert tick(a, enqueue=on_a, every=30, now=now + 30, tz=TZ)
    assert on_a.calls == [("run_all", f"scan-{int(now // 30)}"), ("run_all", f"scan-{int(now // 30) + 1}")]
    assert on_b.calls == []
    assert queue.job_ids == [f"scan-{int(now // 30)}", f"scan-{int(now // 30) + 1}"]


def test_active_and_idle_are_logged_once_each_not_every_tick(redis_conn, clock, queue, caplog):
    a, b = locks(redis_conn, clock)
    caplog.set_level(logging.INFO, logger="jobs.scheduler")
    clock.now = _at("2026-11-24 06:00")
    for _ in range(3):
        tick(a, enqueue=Recorder(queue), every=30, now=clock(), tz=TZ)
        tick(b, enqueue=Recorder(queue), every=30, now=clock(), tz=TZ)
        clock.advance(1)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["scheduler a active: it enqueues the periodic scans",
                     "scheduler b idle: a holds the lock"]


def test_a_scan_is_enqueued_once_when_the_leader_changes_inside_an_interval(redis_conn, clock, queue):
    a, b = locks(redis_conn, clock, ttl=3)
    on_a, on_b = Recorder(queue), Recorder(queue)
    clock.now = _at("2026-11-24 06:00:10")
    assert tick(a, enqueue=on_a, every=30, now=clock(), tz=TZ)
    clock.advance(5)   # a dies just after enqueuing; b takes over in the same 30 s interval
    assert tick(b, enqueue=on_b, every=30, now=clock(), tz=TZ)
    scan = f"scan-{int(clock() // 30)}"
    assert on_a.calls == on_b.calls == [("run_all", scan)]   # both tried: only rq's job id keeps it to one
    assert queue.job_ids == [scan]
    assert queue.fetch_job(scan).func_name == "jobs.scans.run_all"


def test_redis_down_makes_tick_return_false_and_a_later_tick_catches_up(redis_conn, clock, queue, caplog):
    down = LeaderLock(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5), ttl=5, token="a", clock=clock)
    recorder = Recorder(queue)
    caplog.set_level(logging.WARNING, logger="jobs.scheduler")
    clock.now = _at("2026-11-24 09:00")
    assert tick(down, enqueue=recorder, every=30, now=clock(), tz=TZ) is False
    assert recorder.calls == [] and "Redis unreachable" in caplog.text
    clock.advance(30)
    back = LeaderLock(redis_conn, ttl=5, token="a", clock=clock)   # the same scheduler once Redis answers again
    assert tick(back, enqueue=recorder, every=30, now=clock(), tz=TZ)
    assert recorder.names() == ["run_all", "certificate_scan"]
    assert queue.job_ids == [f"scan-{int(clock() // 30)}", "certificates-2026-11-24"]


def test_the_daily_certificate_scan_is_enqueued_once_a_day_across_a_failover(redis_conn, clock, queue):
    a, b = locks(redis_conn, clock)
    recorder = Recorder(queue)
    clock.now = _at("2026-11-24 07:59")
    assert tick(a, enqueue=recorder, every=30, now=clock(), tz=TZ)
    assert "certificate_scan" not in recorder.names()   # not before the working day starts
    clock.now = _at("2026-11-24 08:00")
    assert tick(a, enqueue=recorder, every=30, now=clock(), tz=TZ)
    for later in ("2026-11-24 15:00", "2026-11-24 23:59", "2026-11-25 08:00:30"):   # a has died; b leads
        clock.now = _at(later)
        assert tick(b, enqueue=recorder, every=30, now=clock(), tz=TZ)
    # Every attempt is recorded, refused or not: the scheduler itself asks once a day.
    certificates = [job_id for name, job_id in recorder.calls if name == "certificate_scan"]
    assert certificates == ["certificates-2026-11-24", "certificates-2026-11-25"]
    assert redis_conn.get(CERT_DAY_KEY) == b"2026-11-25"
    assert [j for j in queue.job_ids if j.startswith("certificates-")] == certificates


def test_the_certificate_scan_is_not_lost_when_redis_fails_before_the_day_is_recorded(redis_conn, clock, queue):
    """A crash between the enqueue and the record retries; the job id keeps it to one job."""
    recorder = Recorder(queue)
    lock = LeaderLock(redis_conn, ttl=5, token="a", clock=clock)
    clock.now = _at("2026-11-24 09:00")
    assert tick(lock, enqueue=recorder, every=30, now=clock(), tz=TZ)
    redis_conn.delete(CERT_DAY_KEY)   # as if Redis died before the day was written
    assert tick(lock, enqueue=recorder, every=30, now=clock(), tz=TZ)
    assert recorder.names().count("certificate_scan") == 2   # retried...
    assert sorted(queue.job_ids) == ["certificates-2026-11-24", f"scan-{int(clock() // 30)}"]   # ...queued once
    assert redis_conn.get(CERT_DAY_KEY) == b"2026-11-24"


def test_rq_refuses_a_second_job_of_the_same_id(queue):
    assert enqueue_unique(queue, scans.run_all, "scan-1", ttl=60)
    assert not enqueue_unique(queue, scans.run_all, "scan-1", ttl=60)
    assert queue.job_ids == ["scan-1"]


def test_run_enqueues_scans_until_stopped_and_hands_the_lock_over(redis_conn, redis_url, queue, instance):
    settings.configure({"REDIS_URL": redis_url})
    stop, three_scans = threading.Event(), threading.Event()

    def scan_ids() -> list[str]:
        return [job_id for job_id in queue.job_ids if job_id.startswith("scan-")]

    runner = threading.Thread(target=run, kwargs={"every": 0.2, "lock_ttl": 1.0, "stop": stop})
    try:
        runner.start()
        # Wait on the condition itself, however slow the machine; the bound only stops a hang.
        bound = time.monotonic() + 60
        while not three_scans.is_set() and runner.is_alive() and time.monotonic() < bound:
            if len(scan_ids()) >= 3:
                three_scans.set()
            else:
                three_scans.wait(0.05)
        assert three_scans.is_set(), "the scheduler stopped before enqueuing three scans"
        assert redis_conn.hget("scheduler:leader", "holder") is not None
    finally:
        stop.set()
        runner.join(timeout=30)
        settings.configure()
    assert not runner.is_alive()
    assert len(set(scan_ids())) == len(scan_ids())
    assert not redis_conn.exists("scheduler:leader")   # released on the way out: a standby needs no wait


def test_the_audit_checkpoint_is_enqueued_once_a_day_from_23_00(redis_conn, clock, queue):
    a, b = locks(redis_conn, clock)
    recorder = Recorder(queue)
    clock.now = _at("2026-11-24 22:59")
    assert tick(a, enqueue=recorder, every=30, now=clock(), tz=TZ)
    assert "daily_checkpoint" not in recorder.names()
    for when, lock in (("2026-11-24 23:00", a), ("2026-11-24 23:30", a), ("2026-11-25 23:00:30", b)):
        clock.now = _at(when)
        assert tick(lock, enqueue=recorder, every=30, now=clock(), tz=TZ) or lock is b
    assert [j for j in queue.job_ids if j.startswith("audit-")] == ["audit-checkpoint-2026-11-24",
                                                                      "audit-checkpoint-2026-11-25"]
