"""The one active scheduler: a Redis lock elects a leader, and only the leader enqueues the periodic scans.

Several schedulers may run for availability. Each tick, every one of them tries to take or renew the
lock; the holder enqueues, the others stay idle. A scheduler that dies stops renewing, its lock runs
out, and another takes over within the lock's lifetime. Redis only carries the jobs: the database
says what is due, so a tick lost while Redis is down is made up by the next one.

The leader enqueues each scan for the deployment's own database and once more for every park
enterprise, bound to its database, so each enterprise's deadlines, sweeps and reports run on its own.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from . import checkpoints, exporting, scans
from . import readings
from .tenancy import each, scoped
from .unique import enqueue_unique

log = logging.getLogger(__name__)

CERT_DAY_KEY = "scheduler:cert-day"
CHECKPOINT_DAY_KEY = "scheduler:audit-checkpoint-day"
CHECKPOINT_HOUR = 23   # late enough to cover the day's work
# Certificate warnings reach people at the start of the working day, not at midnight.
CERT_SCAN_HOUR = 8
# The monthly report goes out on the 1st, at the start of the working day, for the month just ended.
REPORT_MONTH_KEY = "scheduler:report-month"
REPORT_HOUR = 8
REPORT_CATCH_UP_DAYS = 3

# The lease is a hash (holder, until in ms). Take it when free or lapsed, extend it when it is ours,
# never touch another holder's live lease. The key's own expiry only clears a dead scheduler's leftovers.
_ACQUIRE_OR_RENEW = """
local holder = redis.call("HGET", KEYS[1], "holder")
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
if holder and holder ~= ARGV[1] and tonumber(redis.call("HGET", KEYS[1], "until")) > now then
    return 0
end
redis.call("HSET", KEYS[1], "holder", ARGV[1], "until", now + ttl)
redis.call("PEXPIRE", KEYS[1], ttl)
return 1
"""
_RELEASE = """
if redis.call("HGET", KEYS[1], "holder") == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"""

Clock = Callable[[], float]


class LeaderLock:
    """A lease in Redis that at most one scheduler holds; it lapses unless renewed within ttl seconds.

    Time comes from Redis's own clock unless a clock is given, so schedulers on machines whose clocks
    disagree still agree on when a lease has lapsed.
    """

    def __init__(self, redis: Redis, key: str = "scheduler:leader", ttl: float = 20.0,
                 token: str | None = None, *, clock: Clock | None = None):
        self.redis, self.key, self.ttl = redis, key, ttl
        self.token = token or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: bool | None = None   # as of the last attempt; None before the first
        self._clock = clock or self._server_time
        self._acquire = redis.register_script(_ACQUIRE_OR_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _server_time(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def acquire_or_renew(self) -> bool:
        """Take the lock if free or lapsed, or extend it if ours; return whether we hold it now."""
        now_ms = int(self._clock() * 1000)
        self.held = bool(self._acquire(keys=[self.key], args=[self.token, now_ms, max(1, int(self.ttl * 1000))]))
        return self.held

    def release(self) -> bool:
        """Give the lock up if we hold it, so a standby takes over at once; return whether we did."""
        released = bool(self._release(keys=[self.key], args=[self.token]))
        self.held = False
        return released

    def holder(self) -> str | None:
        """Return the token of whoever holds the lock now, None when it is free or has lapsed."""
        holder, until = self.redis.hmget(self.key, "holder", "until")
        if holder is None or int(until) <= int(self._clock() * 1000):
            return None
        return holder.decode() if isinstance(holder, bytes) else holder


Enqueue = Callable[..., bool]


def tick(lock: LeaderLock, *, enqueue: Enqueue, every: float = 30.0, now: float | None = None,
         tz: ZoneInfo | None = None) -> bool:
    """Enqueue the due scans if this scheduler leads; return whether it does."""
    now = time.time() if now is None else now
    was = lock.held
    try:
        leader = lock.acquire_or_renew()
        if was is not leader:
            _log_transition(lock, leader)
        if not leader:
            return False
        # One job id per interval: a leader change at the boundary cannot enqueue the same scan twice.
        keep = max(60, int(4 * every))   # a scan still queued after this is superseded by a newer one

        def due() -> None:
            enqueue(scans.run_all, f"scan-{int(now // every)}", ttl=keep, result_ttl=keep,
                    failure_ttl=86400)
            _enqueue_certificate_scan(lock.redis, enqueue=enqueue, now=now, tz=tz)
            _enqueue_monthly_report(lock.redis, enqueue=enqueue, now=now, tz=tz)
            _enqueue_audit_checkpoint(lock.redis, enqueue=enqueue, now=now, tz=tz)
        each(due)
        return True
    except (RedisConnectionError, RedisTimeoutError) as exc:
        lock.held = False
        log.warning("Redis unreachable, scans wait for the next tick: %s", exc)
        return False


def prune_tick(lock: LeaderLock, *, enqueue: Enqueue, now: float | None = None) -> bool:
    """Enqueue the readings' retention job once per interval if this scheduler leads."""
    now = time.time() if now is None else now
    if not lock.held:
        return False
    done = each(lambda: enqueue(readings.prune, f"readings-prune-{int(now // readings.PRUNE_EVERY)}",
                                result_ttl=readings.PRUNE_EVERY, failure_ttl=86400))
    return any(done.values())


def _plant_time(now: float, tz: ZoneInfo | None) -> datetime:
    if tz is None:
        import settings
        tz = settings.current().plant_tz
    return datetime.fromtimestamp(now, timezone.utc).astimezone(tz)


def _enqueue_certificate_scan(redis: Redis, *, enqueue: Enqueue, now: float, tz: ZoneInfo | None) -> None:
    """Enqueue the daily certificate scan on the first leader tick of the plant-local working day."""
    local = _plant_time(now, tz)
    day = local.date().isoformat()
    if local.hour < CERT_SCAN_HOUR or _text(redis.get(scoped(CERT_DAY_KEY))) == day:
        return
    # Recorded after the enqueue, so a crash in between retries (and the job id refuses a second copy).
    enqueue(scans.certificate_scan, f"certificates-{day}", result_ttl=2 * 86400, failure_ttl=7 * 86400)
    redis.set(scoped(CERT_DAY_KEY), day, ex=7 * 86400)


def _enqueue_audit_checkpoint(redis: Redis, *, enqueue: Enqueue, now: float, tz: ZoneInfo | None) -> None:
    """Enqueue the day's audit checkpoint on the first leader tick from 23:00 (plant time)."""
    local = _plant_time(now, tz)
    day = local.date().isoformat()
    if local.hour < CHECKPOINT_HOUR or _text(redis.get(scoped(CHECKPOINT_DAY_KEY))) == day:
        return
    enqueue(checkpoints.daily_checkpoint, f"audit-checkpoint-{day}", kwargs={"day": day},
            result_ttl=2 * 86400, failure_ttl=7 * 86400)
    redis.set(scoped(CHECKPOINT_DAY_KEY), day, ex=7 * 86400)


def _enqueue_monthly_report(redis: Redis, *, enqueue: Enqueue, now: float, tz: ZoneInfo | None) -> None:
    """Enqueue last month's report on the first leader tick from 08:00 on the 1st (plant time).

    A scheduler down on the 1st catches up on the 2nd or 3rd, and no later: a report for last month
    turning up mid-month would be noise. The job itself sends nothing twice.
    """
    local = _plant_time(now, tz)
    if local.day > REPORT_CATCH_UP_DAYS or (local.day == 1 and local.hour < REPORT_HOUR):
        return
    month = f"{(local.date().replace(day=1) - timedelta(days=1)):%Y-%m}"
    if _text(redis.get(scoped(REPORT_MONTH_KEY))) == month:
        return
    enqueue(exporting.monthly_report, f"monthly-report-{month}", kwargs={"month": month},
            job_timeout=exporting.JOB_TIMEOUT,
            result_ttl=40 * 86400, failure_ttl=40 * 86400)
    redis.set(scoped(REPORT_MONTH_KEY), month, ex=40 * 86400)


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _log_transition(lock: LeaderLock, leader: bool) -> None:
    if leader:
        log.info("scheduler %s active: it enqueues the periodic scans", lock.token)
    else:
        log.info("scheduler %s idle: %s holds the lock", lock.token, lock.holder())


def run(*, every: float, lock_ttl: float, stop: threading.Event | None = None) -> None:
    """Tick until stop is set (or Ctrl-C), then release the lock so a standby takes over at once."""
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.schedulers.blocking import BlockingScheduler
    import settings
    from park.enterprises import current
    from .connection import queue as rq_queue
    if every <= 0 or lock_ttl <= 0:
        raise ValueError("every and lock_ttl must be positive")
    queue = rq_queue("default")
    lock = LeaderLock(queue.connection, ttl=lock_ttl)
    tz = settings.current().plant_tz
    last: dict[tuple, str] = {}

    def enqueue(func, job_id, **options) -> bool:
        mine = (current(), func)   # per enterprise: each has its own scan of the interval
        if last.get(mine) == job_id:
            return False   # this process already enqueued it; spare Redis the refused attempt
        added = enqueue_unique(queue, func, job_id, **options)
        last[mine] = job_id
        return added

    # The lock must be renewed well within its lifetime, however long the scan interval is;
    # the job ids keep the scans to one per interval.
    beat = min(every, lock_ttl / 3)
    scheduler = BlockingScheduler(timezone=timezone.utc)
    scheduler.add_job(tick, "interval", seconds=beat, args=[lock], id="tick",
                      kwargs={"enqueue": enqueue, "every": every, "tz": tz},
                      next_run_time=datetime.now(timezone.utc), coalesce=True, max_instances=1,
                      misfire_grace_time=max(1, int(beat)))
    scheduler.add_job(prune_tick, "interval", seconds=beat, args=[lock], id="readings-prune",
                      kwargs={"enqueue": enqueue}, coalesce=True, max_instances=1)
    if stop is not None:
        def watch(_event) -> None:
            # Started once the scheduler runs, so a shutdown cannot come before it.
            threading.Thread(target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True,
                             name="scheduler-stop").start()
        scheduler.add_listener(watch, EVENT_SCHEDULER_STARTED)
    log.info("scheduler %s started: scans every %ss, lock %ss", lock.token, every, lock_ttl)
    try:
        scheduler.start()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        try:
            lock.release()
        except (RedisConnectionError, RedisTimeoutError):
            pass   # the lock runs out by itself
        log.info("scheduler %s stopped", lock.token)
