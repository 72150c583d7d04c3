"""The embedded Redis: started on first use in the instance folder, and really stopped by stop_embedded."""
from __future__ import annotations

import os
import time

import settings
from jobs import connection


def _gone(pid: int, within: float = 10.0) -> bool:
    # The server is daemonized, not our child: it can only be watched, not waited for.
    deadline = time.monotonic() + within
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_embedded_server_stops_and_keeps_its_data(instance, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.configure()
    connection._connect.cache_clear()
    server = connection.redis()
    pid = server.pid
    try:
        server.set("left", "before the stop")
        connection.stop_embedded()
        assert _gone(pid), "the embedded redis-server still runs after stop_embedded"
        again = connection.redis()   # a new server on the same file
        assert again.get("left") == b"before the stop" and again.pid != pid
    finally:
        connection.stop_embedded()
