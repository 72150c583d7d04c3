"""Bounded database pools: a caller past the bound is refused with Busy, and the web tier says 503."""
from __future__ import annotations

import threading

import pytest

import models
from models import db as dbmod
from models.db import Busy


def hold(count: int) -> tuple[list[threading.Thread], threading.Event]:
    """Start count threads that each take a connection and keep it until released."""
    release, held = threading.Event(), threading.Barrier(count + 1)

    def holder():
        models.database.connect(reuse_if_open=True)
        models.database.execute_sql("SELECT 1")
        held.wait()
        release.wait()
        models.database.close()

    threads = [threading.Thread(target=holder) for _ in range(count)]
    for t in threads:
        t.start()
    held.wait()
    return threads, release


@pytest.fixture
def pool_of_two(tmp_path):
    db = models.connect(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=2, wait=0.2)
    yield db
    db.close_all()


def test_a_caller_past_the_bound_is_refused_with_busy_and_served_once_a_connection_is_back(pool_of_two):
    threads, release = hold(2)
    with pytest.raises(Busy):
        models.database.connect()
    assert len(pool_of_two._in_use) == 2    # the refused caller opened nothing
    release.set()
    for t in threads:
        t.join()
    assert models.database.execute_sql("SELECT 1").fetchone() == (1,)
    models.database.close()


def test_a_thread_that_ended_holding_a_connection_gives_its_slot_back(pool_of_two):
    def forgetful():
        models.database.execute_sql("SELECT 1")   # opens, never closes

    for _ in range(3):
        t = threading.Thread(target=forgetful)
        t.start()
        t.join()
    assert models.database.execute_sql("SELECT 1").fetchone() == (1,)
    assert len(pool_of_two._in_use) <= 2
    models.database.close()


def test_a_locked_sqlite_database_is_busy_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT", 50)
    models.connect(f"sqlite:///{tmp_path / 'locked.db'}", pool_size=4, wait=0.2)
    models.database.execute_sql("CREATE TABLE t (x INTEGER)")
    models.database.close()
    writing, done = threading.Event(), threading.Event()

    def writer():
        with models.transaction():
            models.database.execute_sql("INSERT INTO t VALUES (1)")
            writing.set()
            done.wait()
        models.database.close()

    t = threading.Thread(target=writer)
    t.start()
    writing.wait()
    try:
        with pytest.raises(Busy):
            with models.transaction():
                models.database.execute_sql("INSERT INTO t VALUES (2)")
    finally:
        done.set()
        t.join()
    assert models.database.execute_sql("SELECT x FROM t").fetchall() == [(1,)]
    models.database.close_all()


def test_an_in_memory_database_keeps_one_connection():
    db = models.connect("sqlite:///:memory:")
    assert not hasattr(db, "_in_use")
    db.close()


def test_the_web_tier_answers_503_with_retry_after_when_every_connection_is_taken(instance, tmp_path, monkeypatch):
    from app import create_app
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'web.db'}")
    monkeypatch.setenv("DB_POOL_SIZE", "2")
    monkeypatch.setenv("DB_POOL_WAIT", "0.2")
    app = create_app()
    client = app.test_client()
    threads, release = hold(2)
    try:
        answer = client.get("/alarms/1")
        alive = client.get("/healthz")   # the process itself is fine: no connection is needed to say so
    finally:
        release.set()
        for t in threads:
            t.join()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.get_json() == {"error": "busy", "message": "服务繁忙，请稍后重试"}
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    assert client.get("/healthz").status_code == 200   # the process is still serving


@pytest.mark.parametrize("name, raw", [("DB_POOL_SIZE", "0"), ("WEB_CONCURRENCY", "many"), ("DB_POOL_WAIT", "-1")])
def test_a_bad_pool_or_web_setting_is_named_at_start(name, raw, monkeypatch):
    import settings
    monkeypatch.setenv(name, raw)
    with pytest.raises(settings.SettingsError, match=name):
        settings.load()
