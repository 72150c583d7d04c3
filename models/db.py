"""The database handle, the base model and the transaction every command runs in."""
from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import urlparse

from peewee import Database, DatabaseProxy, Model, OperationalError, SqliteDatabase, TextField
from playhouse.db_url import parse as parse_url
from playhouse.pool import (MaxConnectionsExceeded, PooledMySQLDatabase, PooledPostgresqlDatabase,
                            PooledSqliteDatabase)

from .written import note_commit

_bound: ContextVar[Database | None] = ContextVar("enterprise_database", default=None)


class RoutedDatabase(DatabaseProxy):
    """The handle every model uses: the database bound to this context (an enterprise's), else the process's own.

    A park deployment serves several enterprises, each in a database of its own; a request binds its
    enterprise's database here for its duration, so every query below it, in any module, reaches that
    database and no other. A thread or task starts with nothing bound: the process's own database.
    """
    __slots__ = ("home",)

    @property
    def obj(self):
        bound = _bound.get()
        return bound if bound is not None else self.home

    @obj.setter
    def obj(self, value):
        object.__setattr__(self, "home", value)

    def __setattr__(self, attr, value):
        object.__setattr__(self, attr, value)


database = RoutedDatabase()
POOL_SIZE = 10       # connections one process may hold at once
POOL_WAIT = 5.0      # seconds a caller waits for a free connection before Busy
BUSY_TIMEOUT = 5000  # ms a SQLite writer waits for the lock before Busy


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime in whole seconds, the form every table stores.

    Whole seconds because MySQL's DATETIME keeps none of the fraction: a value that hashed one way
    before storage must hash the same way after it.
    """
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class JSONField(TextField):
    """JSON kept as text, so the same column works on SQLite, PostgreSQL and MySQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Busy(OperationalError):
    """The database cannot take this caller now (pool exhausted, server full, SQLite locked): retry shortly."""

    retry_after = 1   # seconds a client should wait before trying again


_FULL = ("too many clients", "too many connections", "database is locked", "remaining connection slots")


def _busy(exc: Exception) -> bool:
    return isinstance(exc, MaxConnectionsExceeded) or any(s in str(exc).lower() for s in _FULL)


class _Bounded:
    """A pool that refuses with Busy when full, and takes back the slots of threads that ended holding one.

    peewee's pool counts a connection as in use until its thread closes it; a thread that ends
    without closing (a server's request thread, a stream handler) would otherwise hold its slot
    for the life of the process.
    """

    def __init__(self, *args, **kwargs):
        self._owners: dict[int, threading.Thread] = {}
        super().__init__(*args, **kwargs)

    def connect(self, reuse_if_open: bool = False):
        try:
            return super().connect(reuse_if_open)
        except (MaxConnectionsExceeded, OperationalError) as exc:
            if _busy(exc):
                raise Busy(f"数据库连接已满（{exc}）") from exc
            raise

    def _connect(self):
        try:
            conn = super()._connect()
        except MaxConnectionsExceeded:
            if not self._reclaim():
                raise
            conn = super()._connect()
        with self._pool_lock:
            self._owners[self.conn_key(conn)] = threading.current_thread()
        return conn

    def _reclaim(self) -> int:
        with self._pool_lock:
            dead = [key for key, owner in self._owners.items() if not owner.is_alive()]
            for key in dead:
                del self._owners[key]
                held = self._in_use.pop(key, None)
                if held is not None:
                    self._close_raw(held.connection)
            return len(dead)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        except OperationalError as exc:
            _raise_busy(exc)
            raise

    def begin(self, *args, **kwargs):
        # SQLite's BEGIN IMMEDIATE is where a second writer meets the lock.
        try:
            return super().begin(*args, **kwargs)
        except OperationalError as exc:
            _raise_busy(exc)
            raise


def _raise_busy(exc: OperationalError) -> None:
    if _busy(exc) and not isinstance(exc, Busy):
        raise Busy(f"数据库繁忙（{exc}）") from exc


# Named Sqlite*/Postgres*/MySQL* like peewee's own classes: callers tell the engine by the name.
class SqlitePool(_Bounded, PooledSqliteDatabase):
    """SQLite with a bounded number of connections, and one writer's turn at a time in this process."""

    def __init__(self, *args, **kwargs):
        self.writer = threading.Lock()
        super().__init__(*args, **kwargs)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        if self.in_transaction() or not _WRITE.match(sql):
            return super().execute_sql(sql, params, *args, **kwargs)
        # A write outside transaction() is a transaction of its own: it queues for the turn too.
        if not self.writer.acquire(timeout=BUSY_TIMEOUT / 1000):
            raise Busy("数据库繁忙（等待写入超时）")
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        finally:
            self.writer.release()


_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class PostgresqlPool(_Bounded, PooledPostgresqlDatabase):
    """PostgreSQL through a bounded pool."""


class MySQLPool(_Bounded, PooledMySQLDatabase):
    """MySQL or MariaDB through a bounded pool."""


def connect(url: str, *, pool_size: int = POOL_SIZE, wait: float = POOL_WAIT):
    """Open the database named by url through a bounded pool and make it the process's own."""
    db = open_database(url, pool_size=pool_size, wait=wait)
    database.initialize(db)
    return db


def bind(db: Database) -> Token:
    """Make db the database of this context until unbind(token); the caller closes its connection first."""
    return _bound.set(db)


def unbind(token: Token) -> None:
    _bound.reset(token)


@contextmanager
def bound(db: Database) -> Iterator[Database]:
    """Run the block on db: every model's query in it reaches db, and its connection is closed after."""
    token = bind(db)
    try:
        yield db
    finally:
        if not db.is_closed():
            db.close()
        unbind(token)


def open_database(url: str, *, pool_size: int = POOL_SIZE, wait: float = POOL_WAIT) -> Database:
    """Return the database named by url behind a bounded pool, not yet bound to anything."""
    scheme = urlparse(url).scheme.split("+")[0]
    kwargs = parse_url(url)
    # peewee reads a wait of 0 as "for ever"; None is "not at all".
    pool = {"max_connections": pool_size, "timeout": wait if wait > 0 else None, "stale_timeout": 3600}
    if scheme.startswith("sqlite"):
        # WAL lets readers work while a command writes; busy_timeout makes a second writer wait
        # its turn, and past it the caller gets Busy rather than a hung request.
        pragmas = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT,
                   "synchronous": "normal"}
        if kwargs["database"] == ":memory:":
            # Every connection to :memory: is a database of its own: one connection, no pool.
            db = SqliteDatabase(":memory:", pragmas=pragmas)
        else:
            db = SqlitePool(kwargs.pop("database"), pragmas=pragmas, check_same_thread=False,
                            **pool, **kwargs)
    elif scheme.startswith("mysql"):
        if "password" in kwargs:
            kwargs["passwd"] = kwargs.pop("password")
        # MySQL's BLOB stops at 64 KB, less than one phone photo.
        db = MySQLPool(kwargs.pop("database"), charset="utf8mb4", field_types={"BLOB": "LONGBLOB"},
                       **pool, **kwargs)
    elif scheme.startswith("postgres"):
        db = PostgresqlPool(kwargs.pop("database"), **pool, **kwargs)
    else:
        raise ValueError(f"不支持的数据库：{url}")
    return db


def release() -> None:
    """Close every connection this process holds, so a fork about to happen inherits none."""
    db = database.obj
    if db is None:
        return
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


_inherited: list = []


def after_fork() -> None:
    """Forget the connections a forked child inherited, without closing them under its parent."""
    forget_inherited(database.obj)


def forget_inherited(db: Database | None) -> None:
    """Forget db's connections inherited over a fork, leaving them open for the parent that still uses them."""
    if db is None:
        return
    # Closing would tell the server (PostgreSQL's Terminate) to end the parent's session too; the
    # child keeps the objects alive until it exits instead.
    if hasattr(db, "_in_use"):
        _inherited.extend(conn for _, _, conn in db._connections)
        _inherited.extend(held.connection for held in db._in_use.values())
        db._connections, db._in_use = [], {}
        db._owners.clear()
        # A lock some other thread of the parent held at the fork would never be released here.
        db._pool_lock = threading.RLock()
        db._pool_available = threading.Condition(db._pool_lock)
    if not db.is_closed():
        _inherited.append(db._state.conn)
    db._lock = threading.Lock()
    if hasattr(db, "writer"):
        db.writer = threading.Lock()
    db._state.reset()


def transaction():
    """Start the transaction one command runs in.

    SQLite takes the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads and
    then writes would fail with "database is locked" instead of waiting its turn.
    """
    if isinstance(database.obj, SqliteDatabase):
        return _Transaction(database.atomic("IMMEDIATE"), getattr(database.obj, "writer", None))
    return _Transaction(database.atomic(), None)


class _Transaction:
    """A transaction that queues for the process's writer turn and tells the collecting request of its commit.

    On SQLite a writer that finds the lock taken sleeps in SQLite's busy handler, in naps that grow to
    100 ms, and is not woken when the lock frees: under a burst of clicks a few writers lose turn after
    turn while others get in, and their requests take a second. Waiting on a lock of this process
    instead wakes the next writer as soon as the last one commits; the busy handler is left to settle
    only the rarer contention with other processes.
    """

    def __init__(self, atomic, writer: threading.Lock | None):
        self._atomic, self._writer, self._queued = atomic, writer, False

    def __enter__(self):
        self._outermost = not database.in_transaction()
        if self._writer is not None and self._outermost:
            if not self._writer.acquire(timeout=BUSY_TIMEOUT / 1000):
                raise Busy("数据库繁忙（等待写入超时）")
            self._queued = True
        try:
            return self._atomic.__enter__()
        except BaseException:
            self._release()
            raise

    def __exit__(self, kind, value, tb):
        try:
            swallowed = self._atomic.__exit__(kind, value, tb)
        finally:
            self._release()
        if kind is None and self._outermost:
            note_commit()
        return swallowed

    def _release(self) -> None:
        if self._queued:
            self._queued = False
            self._writer.release()


def for_update(query):
    """Lock the selected rows until the transaction ends (SQLite already holds the write lock)."""
    if isinstance(database.obj, SqliteDatabase):
        return query
    return query.for_update()


def compiled(key: tuple, build) -> str:
    """Return the SQL of build()'s query, compiled once per database and key.

    Compiling a peewee query costs several times what the database spends running a small one;
    a statement of fixed shape, run for every detector post, is compiled once and then only bound.
    The caller passes the parameters in the order the SQL names them.
    """
    db = database.obj
    cache = db.__dict__.setdefault("_compiled_sql", {})
    sql = cache.get(key)
    if sql is None:
        sql = cache[key] = build().sql()[0]
    return sql


def insert_rows(model, fields: tuple, rows: list[tuple]) -> None:
    """Insert rows (tuples in the order of fields, which must name every column but the id) in one statement."""
    sql = compiled(("insert", model, tuple(f.name for f in fields), len(rows)),
                   lambda: model.insert_many(rows, fields=list(fields)))
    database.execute_sql(sql, [f.db_value(v) for row in rows for f, v in zip(fields, row)])
