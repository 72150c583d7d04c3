"""What /readyz checks: each part the product needs to do its work now, named when it is not there.

Long-connection processes (DingTalk Stream, WeCom's long connection) prove they hold their socket by
writing a heartbeat to Redis: the key ws:<platform>:heartbeat holds the Unix time of the last frame
or ping they saw (decimal seconds, as text), refreshed at least every HEARTBEAT_EVERY seconds and
given an expiry of HEARTBEAT_STALE. An absent or older heartbeat means the socket is down.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

HEARTBEAT_KEY = "ws:{platform}:heartbeat"
HEARTBEAT_EVERY = 10    # seconds between a socket holder's writes
HEARTBEAT_STALE = 45    # seconds after which a socket without a heartbeat counts as down
# Jobs waiting beyond these depths mean the workers are not keeping up (or not running).
QUEUE_LIMITS = {"alarm": 50, "deliver": 2000, "default": 500}


@dataclass
class Report:
    checks: dict[str, str] = field(default_factory=dict)    # name -> "ok" or what is wrong
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    def as_json(self) -> dict:
        failed = {name: why for name, why in self.checks.items() if why != "ok"}
        return {"status": "ready" if not failed else "not_ready", "failed": failed,
                "checks": self.checks, **self.figures}


def heartbeat_key(platform: str) -> str:
    """Return the Redis key a long-connection process of platform refreshes."""
    return HEARTBEAT_KEY.format(platform=platform)


def beat(redis, platform: str, *, now: float | None = None) -> None:
    """Write platform's socket heartbeat (for the processes that hold a long connection)."""
    redis.set(heartbeat_key(platform), f"{time.time() if now is None else now:.3f}", ex=HEARTBEAT_STALE)


def _run(report: Report, name: str, check: Callable[[], str | None]) -> None:
    try:
        problem = check()
    except Exception as exc:  # noqa: BLE001 - a failing dependency is the answer, not an error
        problem = f"{type(exc).__name__}: {exc}"[:300]
    report.checks[name] = problem or "ok"


def check(*, database, redis, tokens: dict[str, Callable[[], object]], sockets: list[str],
          leader: Callable[[], str | None], depths: Callable[[], dict[str, int]],
          schema: Callable[[], tuple[int | None, int]], now: Callable[[], float] = time.time) -> Report:
    """Run every check and return the report; each failure is named, none stops the others."""
    report = Report()

    def db() -> str | None:
        database.execute_sql("SELECT 1")
        version, head = schema()
        if version is None or version < head:
            return f"数据库结构为第 {version} 版，需要第 {head} 版"
        return None
    _run(report, "database", db)
    _run(report, "redis", lambda: None if redis().ping() else "no PONG")
    for platform, fetch in tokens.items():
        _run(report, f"token:{platform}", lambda fetch=fetch: None if fetch() else "empty token")
    for platform in sockets:
        def fresh(platform=platform) -> str | None:
            raw = redis().get(heartbeat_key(platform))
            if raw is None:
                return f"no heartbeat at {heartbeat_key(platform)}"
            age = now() - float(raw)
            return None if age <= HEARTBEAT_STALE else f"last heartbeat {age:.0f} s ago"
        _run(report, f"socket:{platform}", fresh)
    _run(report, "scheduler", lambda: None if leader() else "no scheduler holds the lead")

    def queues() -> str | None:
        found = depths()
        report.figures["queues"] = found
        over = [f"{name}={count}>{QUEUE_LIMITS[name]}" for name, count in found.items()
                if count > QUEUE_LIMITS.get(name, 10 ** 9)]
        return ", ".join(over) or None
    _run(report, "queues", queues)
    return report
