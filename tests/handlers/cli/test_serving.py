"""`python app.py serve`: gunicorn processes that each open their own connections after the fork."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def open_files(pid: int) -> set[str]:
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            names.add(os.readlink(fd))
        except OSError:
            pass
    return names


@pytest.fixture
def served(db, instance, redis_url, monkeypatch):
    if not db.__class__.__name__.startswith("Sqlite"):
        pytest.skip("the open-file check below reads a SQLite file")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db.database}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    db.close_all()
    port = free_port()
    master = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port),
                               "--workers", "2", "--threads", "2"], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert master.poll() is None and time.monotonic() < deadline, "serve did not start"
        time.sleep(0.1)
    yield master, base, db.database
    master.terminate()
    master.wait(30)


def test_serve_runs_gunicorn_processes_that_answer_in_parallel_and_share_no_connection(served):
    master, base, path = served
    with ThreadPoolExecutor(16) as pool:
        # A page that reads the database (an alarm that does not exist), so the workers open it.
        answers = list(pool.map(lambda _: requests.get(f"{base}/alarms/1", timeout=30).status_code, range(64)))
    assert answers == [404] * 64
    workers = children(master.pid)
    assert len(workers) == 2
    # The database file is open in the workers, which opened it after the fork, never in the master.
    assert not any(name.startswith(str(path)) for name in open_files(master.pid))
    assert any(any(name.startswith(str(path)) for name in open_files(w)) for w in workers)


def test_serve_shares_metrics_between_its_processes_through_a_folder(served, instance):
    master, base, _ = served
    answer = requests.get(f"{base}/metrics", timeout=30)
    assert answer.status_code == 200 and 'permit_queue_depth{queue="alarm"} 0.0' in answer.text
    assert (instance / "metrics").is_dir()


def test_serve_refuses_more_threads_than_database_connections(db, instance, monkeypatch):
    if db.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db.database}")
    answer = subprocess.run([sys.executable, str(ROOT / "app.py"), "serve", "--threads", "20"], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "DB_POOL_SIZE": "10"}, timeout=60)
    assert answer.returncode == 1
    assert "DB_POOL_SIZE" in answer.stderr and "Traceback" not in answer.stderr
