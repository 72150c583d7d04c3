"""The database handle, the base model and the transaction every command runs in."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlparse

from peewee import DatabaseProxy, Model, SqliteDatabase, TextField
from playhouse.db_url import connect as connect_url

database = DatabaseProxy()


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


def connect(url: str):
    """Open the database named by url and bind it to every model."""
    scheme = urlparse(url).scheme
    if scheme.startswith("sqlite"):
        # WAL lets readers work while a command writes; busy_timeout makes a second writer wait
        # instead of failing at once.
        db = connect_url(url, pragmas={"journal_mode": "wal", "foreign_keys": 1,
                                       "busy_timeout": 10000, "synchronous": "normal"})
    elif scheme.startswith("mysql"):
        # MySQL's BLOB stops at 64 KB, less than one phone photo.
        db = connect_url(url, charset="utf8mb4", field_types={"BLOB": "LONGBLOB"})
    else:
        db = connect_url(url)
    database.initialize(db)
    return db


def transaction():
    """Start the transaction one command runs in.

    SQLite takes the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads and
    then writes would fail with "database is locked" instead of waiting its turn.
    """
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def for_update(query):
    """Lock the selected rows until the transaction ends (SQLite already holds the write lock)."""
    if isinstance(database.obj, SqliteDatabase):
        return query
    return query.for_update()
