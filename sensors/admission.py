"""Admit readings under load: store them, or refuse clean ones with 503 so the sender retries.

The database is a bounded resource (SQLite has one writer; a server has so many connections).
When it cannot take more, clean readings are shed first: they wait a short while for one of a few
slots and for the lock, then get 503 with Retry-After. A batch that raises or clears an alarm
takes no slot, waits the full lock timeout and is retried, so an alarm is never the one refused.
The limits are settings (SENSOR_CLEAN_SLOTS and the rest, see docs/readings.md), per web process.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Callable

from peewee import InterfaceError, OperationalError, SqliteDatabase
from playhouse.pool import MaxConnectionsExceeded

import settings
from models import database

from . import intake, levels, registry
from .intake import Reading, Result

log = logging.getLogger(__name__)

# Errors that mean "not now" (locked, out of connections, connection lost), never "this input is wrong".
CAPACITY = (OperationalError, InterfaceError, MaxConnectionsExceeded)

_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _clean_slots() -> threading.BoundedSemaphore:
    """The process's clean-batch slots, sized by the settings (made again if the setting changed)."""
    global _slots
    size = settings.current().sensor_clean_slots
    current = _slots
    if current is not None and current[0] == size:
        return current[1]
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


class Overloaded(Exception):
    """The readings could not be stored now; nothing was stored and the sender should retry."""

    status, code = 503, "overloaded"

    def __init__(self, message: str = "系统繁忙，读数未保存，请稍后重发"):
        super().__init__(message)
        self.message, self.retry_after = message, settings.current().sensor_retry_after_seconds

    def as_json(self) -> dict:
        return {"error": self.code, "message": self.message, "retry_after": self.retry_after}


def receive(verify: Callable[[], list], *, now: datetime | None = None) -> Result:
    """Verify a post (verify raises Refused) and admit its readings; raise Overloaded when they must wait."""
    with registry.pinned():
        try:
            posts = verify()
        except CAPACITY as exc:
            log.warning("sensor post not verified, database busy: %s", exc)
            raise Overloaded() from None
        return admit(posts, now=now)


def admit(posts: list[tuple], *, now: datetime | None = None) -> Result:
    """Store the detectors' readings; raise Overloaded (nothing stored) when a clean batch must wait."""
    if _alarming(posts):
        return _urgent(posts, now)
    conf = settings.current()
    slots = _clean_slots()
    if not slots.acquire(timeout=conf.sensor_clean_wait_seconds):
        log.warning("clean readings of %d detectors shed: every slot busy", len(posts))
        raise Overloaded()
    try:
        with _lock_wait(conf.sensor_clean_lock_wait_ms):
            batch = intake.prepare(posts, now=now)
            if not batch.urgent:
                return intake.store(batch)
    except CAPACITY as exc:
        log.warning("clean readings of %d detectors shed: %s", len(posts), exc)
        raise Overloaded() from None
    finally:
        slots.release()
    # The map showed what the set points alone did not (a permit's own limit, a clear): urgent after all.
    return _urgent(posts, now)


def _alarming(posts: list[tuple[object, list[Reading]]]) -> bool:
    """Judge without the database: a set point passed, or a running permit's limit per the cached map."""
    if any(levels.trips(r.values, getattr(sensor, "set_points", None)) for sensor, readings in posts
           for r in readings):
        return True
    snap = registry.cached()
    if snap is None:
        return False
    for sensor, readings in posts:
        running = [p for p in snap.watched(sensor) if p.state == intake.IN_PROGRESS]
        if any(not intake._judge(p, sensor, r.values)[2].passed for p in running for r in readings):
            return True
    return False


def _urgent(posts, now: datetime | None) -> Result:
    attempts = settings.current().sensor_urgent_attempts
    for attempt in range(attempts):
        try:
            return intake.store(intake.prepare(posts, now=now))
        except CAPACITY as exc:
            log.error("alarming readings not stored (attempt %d of %d): %s", attempt + 1, attempts, exc)
            _close_broken()
            if attempt + 1 < attempts:
                time.sleep(0.05 * 2 ** attempt)   # 6 attempts back off about 1.6 s, within a sender's timeout
    raise Overloaded("系统繁忙，报警读数未能保存，请立即重发")


def _close_broken() -> None:
    # A connection that failed mid-use may be unusable: the next attempt opens a fresh one.
    try:
        if not database.obj.in_transaction():
            database.close()
    except Exception:  # noqa: BLE001 - closing is a courtesy; the retry opens its own connection
        pass


@contextmanager
def _lock_wait(ms: int):
    """On SQLite, wait at most ms for the write lock in this block, then restore the usual wait."""
    if not isinstance(database.obj, SqliteDatabase):
        yield
        return
    usual = database.obj._pragmas and dict(database.obj._pragmas).get("busy_timeout", 10000)
    database.execute_sql(f"PRAGMA busy_timeout = {int(ms)}")
    try:
        yield
    finally:
        try:
            database.execute_sql(f"PRAGMA busy_timeout = {int(usual or 10000)}")
        except CAPACITY:
            database.close()
