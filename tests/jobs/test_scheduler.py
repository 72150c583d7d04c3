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

URL = "redis://127.0.0.1:6379/13"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def r():
    """Yield the local Redis, database 13, empty before and after."""
    conn = Redis.from_url(URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


class Recorder:
    """A fake enqueue that records (function name, job id) and accepts each id once, like rq's unique."""

    def __init__(self):
        self.calls = []

    def __call__(self, func, job_id, **options) -> bool:
        if any(job_id == seen for _, seen in self.calls):
            return False
        self.calls.append((func.__name__, job_id))
        return True

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _at(text: str) -> float:
    """Return the epoch seconds of a plant-local time such as 2026-11-24 09:00."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_of_two_locks_exactly_one_is_acquired(r):
    a, b = LeaderLock(r, ttl=0.5, token="a"), LeaderLock(r, ttl=0.5, token="b")
    assert [a.acquire_or_renew(), b.acquire_or_renew()] == [True, False]
    assert r.get("scheduler:leader") == b"a"


def test_the_holder_renews_and_the_other_cannot_steal_it(r):
    a, b = LeaderLock(r, ttl=0.5, token="a"), LeaderLock(r, ttl=0.5, token="b")
    assert a.acquire_or_renew()
    for _ in range(3):   # 0.9 s in all: the lease would have run out without the renewals
        time.sleep(0.3)
        assert a.acquire_or_renew()
        assert not b.acquire_or_renew()
    assert r.get("scheduler:leader") == b"a"
    assert 0 < r.pttl("scheduler:leader") <= 500


def test_when_the_holder_stops_renewing_the_other_takes_over_after_the_ttl(r):
    a, b = LeaderLock(r, ttl=0.5, token="a"), LeaderLock(r, ttl=0.5, token="b")
    assert a.acquire_or_renew()
    assert not b.acquire_or_renew()
    time.sleep(0.6)   # a has died: it renews no more
    assert b.acquire_or_renew()
    assert not a.acquire_or_renew()   # and a that wakes up finds itself a standby
    assert r.get("scheduler:leader") == b"b"


def test_release_by_a_non_holder_does_nothing_and_by_the_holder_hands_over(r):
    a, b = LeaderLock(r, ttl=5, token="a"), LeaderLock(r, ttl=5, token="b")
    assert a.acquire_or_renew()
    assert not b.release()
    assert r.get("scheduler:leader") == b"a"
    assert a.release()
    assert b.acquire_or_renew()


def test_tick_enqueues_the_scan_only_on_the_leader(r):
    a, b = LeaderLock(r, ttl=5, token="a"), LeaderLock(r, ttl=5, token="b")
    on_a, on_b = Recorder(), Recorder()
    now = _at("2026-11-24 06:00")   # before the certificate hour: scans only
    assert tick(a, enqueue=on_a, every=30, now=now, tz=TZ)
    assert not tick(b, enqueue=on_b, every=30, now=now, tz=TZ)
    assert tick(a, enqueue=on_a, every=30, now=now + 30, tz=TZ)
    assert on_a.calls == [("run_all", f"scan-{int(now // 30)}"), ("run_all", f"scan-{int(now // 30) + 1}")]
    assert on_b.calls == []


def test_active_and_idle_are_logged_once_each_not_every_tick(r, caplog):
    a, b = LeaderLock(r, ttl=5, token="a"), LeaderLock(r, ttl=5, token="b")
    caplog.set_level(logging.INFO, logger="jobs.scheduler")
    for step in range(3):
        tick(a, enqueue=Recorder(), every=30, now=_at("2026-11-24 06:00") + step, tz=TZ)
        tick(b, enqueue=Recorder(), every=30, now=_at("2026-11-24 06:00") + step, tz=TZ)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["scheduler a active: it enqueues the periodic scans",
                     "scheduler b idle: a holds the lock"]


def test_a_scan_is_enqueued_once_when_the_leader_changes_inside_an_interval(r):
    queue = Queue("default", connection=r)
    a, b = LeaderLock(r, ttl=0.3, token="a"), LeaderLock(r, ttl=0.3, token="b")
    enqueue = lambda func, job_id, **options: enqueue_unique(queue, func, job_id, **options)
    now = _at("2026-11-24 06:00:10")
    assert tick(a, enqueue=enqueue, every=30, now=now, tz=TZ)
    time.sleep(0.4)   # a dies just after enqueuing; b takes over in the same 30 s interval
    assert tick(b, enqueue=enqueue, every=30, now=now + 5, tz=TZ)
    assert queue.job_ids == [f"scan-{int(now // 30)}"]
    assert queue.fetch_job(queue.job_ids[0]).func_name == "jobs.scans.run_all"


def test_redis_down_makes_tick_return_false_and_a_later_tick_catches_up(r, caplog):
    down = LeaderLock(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5), ttl=5, token="a")
    recorder = Recorder()
    caplog.set_level(logging.WARNING, logger="jobs.scheduler")
    assert tick(down, enqueue=recorder, every=30, now=_at("2026-11-24 09:00"), tz=TZ) is False
    assert recorder.calls == [] and "Redis unreachable" in caplog.text
    back = LeaderLock(r, ttl=5, token="a")   # the same scheduler once Redis answers again
    assert tick(back, enqueue=recorder, every=30, now=_at("2026-11-24 09:00:30"), tz=TZ)
    assert recorder.names() == ["run_all", "certificate_scan"]


def test_the_daily_certificate_scan_is_enqueued_once_a_day_across_a_failover(r):
    a, b = LeaderLock(r, ttl=0.3, token="a"), LeaderLock(r, ttl=0.3, token="b")
    recorder = Recorder()
    assert tick(a, enqueue=recorder, every=30, now=_at("2026-11-24 07:59"), tz=TZ)
    assert "certificate_scan" not in recorder.names()   # not before the working day starts
    assert tick(a, enqueue=recorder, every=30, now=_at("2026-11-24 08:00"), tz=TZ)
    time.sleep(0.4)   # a dies; b takes over later the same day
    assert tick(b, enqueue=recorder, every=30, now=_at("2026-11-24 15:00"), tz=TZ)
    assert tick(b, enqueue=recorder, every=30, now=_at("2026-11-24 23:59"), tz=TZ)
    assert tick(b, enqueue=recorder, every=30, now=_at("2026-11-25 08:00:30"), tz=TZ)
    certificates = [job_id for name, job_id in recorder.calls if name == "certificate_scan"]
    assert certificates == ["certificates-2026-11-24", "certificates-2026-11-25"]
    assert r.get(CERT_DAY_KEY) == b"2026-11-25"


def test_the_certificate_scan_is_not_lost_when_redis_fails_before_the_day_is_recorded(r):
    """A crash between the enqueue and the record retries; the job id keeps it to one job."""
    queue = Queue("default", connection=r)
    enqueue = lambda func, job_id, **options: enqueue_unique(queue, func, job_id, **options)
    lock = LeaderLock(r, ttl=5, token="a")
    now = _at("2026-11-24 09:00")
    assert tick(lock, enqueue=enqueue, every=30, now=now, tz=TZ)
    r.delete(CERT_DAY_KEY)   # as if Redis died before the day was written
    assert tick(lock, enqueue=enqueue, every=30, now=now, tz=TZ)
    assert sorted(queue.job_ids) == ["certificates-2026-11-24", f"scan-{int(now // 30)}"]
    assert r.get(CERT_DAY_KEY) == b"2026-11-24"


def test_rq_refuses_a_second_job_of_the_same_id(r):
    queue = Queue("default", connection=r)
    assert enqueue_unique(queue, scans.run_all, "scan-1", ttl=60)
    assert not enqueue_unique(queue, scans.run_all, "scan-1", ttl=60)
    assert queue.job_ids == ["scan-1"]


def test_run_enqueues_scans_until_stopped_and_hands_the_lock_over(r, instance):
    settings.configure({"REDIS_URL": URL})
    stop = threading.Event()
    runner = threading.Thread(target=run, kwargs={"every": 0.2, "lock_ttl": 1.0, "stop": stop})
    try:
        runner.start()
        time.sleep(1.0)
        assert r.get("scheduler:leader") is not None
    finally:
        stop.set()
        runner.join(timeout=5)
        settings.configure()
    assert not runner.is_alive()
    scan_ids = [job_id for job_id in Queue("default", connection=r).job_ids if job_id.startswith("scan-")]
    assert len(scan_ids) >= 3 and len(set(scan_ids)) == len(scan_ids)
    assert r.get("scheduler:leader") is None   # released on the way out: a standby needs no wait
