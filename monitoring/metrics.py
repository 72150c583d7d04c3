"""Prometheus metrics: latencies observed where they happen, depths and counts read when scraped.

Under gunicorn (and beside the workers) several processes observe; prometheus-client's multiprocess
mode has each write its values to files in PROMETHEUS_MULTIPROC_DIR, and a scrape of any web process
adds them up. Instruments are made on first use, so a process that chose the directory after this
module was imported (serve, worker) still writes there.
"""
from __future__ import annotations

import os
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENV = "PROMETHEUS_MULTIPROC_DIR"
# WeCom retries a callback after 5 s; the alarm relay's promise is about a second.
CALLBACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def use_directory(path: Path) -> Path:
    """Make this process and its children share metrics through files in path; drop dead processes' files."""
    path = Path(os.environ.get(ENV) or path)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        pid = re.search(r"_(\d+)\.db$", stale.name)
        if pid and not _alive(int(pid.group(1))):
            stale.unlink(missing_ok=True)
    os.environ[ENV] = str(path)
    values.ValueClass = values.get_value_class()   # chosen at import, before the directory was known
    _instruments.cache_clear()
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def use_memory() -> None:
    """Keep this process's metrics in its own memory again (undoes use_directory)."""
    os.environ.pop(ENV, None)
    values.ValueClass = values.get_value_class()
    _instruments.cache_clear()


def process_ended(pid: int) -> None:
    """Forget a finished process's live gauges (gunicorn's child_exit)."""
    if os.environ.get(ENV):
        multiprocess.mark_process_dead(pid)


_local = CollectorRegistry()   # one process, no directory: the instruments live here


@lru_cache(maxsize=1)
def _instruments() -> SimpleNamespace:
    # In multiprocess mode the values live in the directory's files, and no registry holds them.
    global _local
    _local = CollectorRegistry()
    registry = None if os.environ.get(ENV) else _local
    return SimpleNamespace(
        callback=Histogram("permit_callback_seconds", "Platform callback: request in to answer out",
                           ["platform"], buckets=CALLBACK_BUCKETS, registry=registry),
        relay=Histogram("permit_alarm_relay_seconds", "Gas alarm: reading taken to card accepted by the platform",
                        ["platform"], buckets=RELAY_BUCKETS, registry=registry),
        failed=Counter("permit_deliveries_failed", "Outbox rows given up for good", ["kind"], registry=registry),
    )


def observe_callback(platform: str, seconds: float) -> None:
    """Record how long one platform callback took to answer."""
    _instruments().callback.labels(platform=platform).observe(seconds)


def observe_relay(platform: str, *, reading_at: datetime, sent_at: datetime) -> None:
    """Record the time from an alarm's reading to its card being sent."""
    _instruments().relay.labels(platform=platform).observe(max(0.0, (sent_at - reading_at).total_seconds()))


def delivery_failed(kind: str) -> None:
    """Count one outbox row given up for good."""
    _instruments().failed.labels(kind=kind).inc()


class LiveCollector:
    """Read what is true now at scrape time: queue depths, open alarms, failed outbox rows."""

    def __init__(self, *, queue_depths, alarms_open, outbox_failed):
        self._depths, self._alarms, self._failed = queue_depths, alarms_open, outbox_failed

    def collect(self):
        depth = GaugeMetricFamily("permit_queue_depth", "Jobs waiting in an rq queue", labels=["queue"])
        for name, count in self._depths().items():
            depth.add_metric([name], count)
        yield depth
        yield GaugeMetricFamily("permit_alarms_open", "Alarms not yet acknowledged", value=self._alarms())
        yield GaugeMetricFamily("permit_outbox_failed", "Outbox rows in state failed", value=self._failed())


def exposition(live: LiveCollector) -> bytes:
    """Return the text a scrape gets: every process's instruments, then the live readings."""
    if os.environ.get(ENV):
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)
    else:
        _instruments()   # so a scrape before the first observation still names the instruments
        shared = _local
    now = CollectorRegistry()
    now.register(live)
    return generate_latest(shared) + generate_latest(now)
