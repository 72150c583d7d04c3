"""The monthly report is enqueued once, on the 1st, by whichever scheduler leads."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rq import Queue

from jobs.scheduler import REPORT_MONTH_KEY, LeaderLock, tick
from jobs.unique import enqueue_unique

TZ = ZoneInfo("Asia/Shanghai")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


class Recorder:
    """An enqueue onto a real rq queue that also keeps every attempt (function, job id, options), refused or not."""

    def __init__(self, redis_conn):
        self.queue, self.calls = Queue("default", connection=redis_conn), []

    def __call__(self, func, job_id, **options) -> bool:
        self.calls.append((func.__name__, job_id, options))
        return enqueue_unique(self.queue, func, job_id, **options)

    def reports(self) -> list[tuple[str, dict]]:
        return [(job_id, options["kwargs"]) for name, job_id, options in self.calls if name == "monthly_report"]


def test_last_months_report_is_enqueued_once_from_8_on_the_1st(redis_conn):
    a, b = LeaderLock(redis_conn, ttl=60, token="a"), LeaderLock(redis_conn, ttl=60, token="b")
    recorder = Recorder(redis_conn)
    tick(a, enqueue=recorder, every=30, now=_at("2026-11-30 23:59"), tz=TZ)
    tick(a, enqueue=recorder, every=30, now=_at("2026-12-01 07:59"), tz=TZ)
    assert recorder.reports() == []
    tick(a, enqueue=recorder, every=30, now=_at("2026-12-01 08:00"), tz=TZ)
    assert recorder.reports() == [("monthly-report-2026-11", {"month": "2026-11"})]
    a.release()
    tick(b, enqueue=recorder, every=30, now=_at("2026-12-01 09:00"), tz=TZ)   # after a failover
    tick(b, enqueue=recorder, every=30, now=_at("2026-12-02 09:00"), tz=TZ)
    assert len(recorder.reports()) == 1 and redis_conn.get(REPORT_MONTH_KEY) == b"2026-11"
    tick(b, enqueue=recorder, every=30, now=_at("2027-01-01 08:00:30"), tz=TZ)
    assert recorder.reports()[-1] == ("monthly-report-2026-12", {"month": "2026-12"})


def test_a_scheduler_down_on_the_1st_catches_up_by_the_3rd_and_not_later(redis_conn):
    back_on_the_3rd, back_on_the_4th = Recorder(redis_conn), Recorder(redis_conn)
    tick(LeaderLock(redis_conn, ttl=60, token="a"), enqueue=back_on_the_3rd, every=30, now=_at("2026-12-03 07:00"),
         tz=TZ)
    assert back_on_the_3rd.reports() == [("monthly-report-2026-11", {"month": "2026-11"})]
    redis_conn.flushdb()
    tick(LeaderLock(redis_conn, ttl=60, token="b"), enqueue=back_on_the_4th, every=30, now=_at("2026-12-04 08:00"),
         tz=TZ)
    assert back_on_the_4th.reports() == []   # last month's report turning up mid-month would be noise
