"""Every table's rows as portable JSON lines, read in one consistent view and written back in order.

The format names no engine: times are ISO 8601 text, bytes are base64, JSON columns stay JSON. A
snapshot taken on SQLite loads into PostgreSQL or MySQL and back.
"""
from __future__ import annotations

import base64
import json
import sqlite3
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterator

from peewee import BlobField, DateField, DateTimeField, ForeignKeyField, SqliteDatabase, sort_models

from .db import JSONField, bind, database, unbind
from .schema import current_version, upgrade
from .tables import MODELS
from .version import SchemaVersion

BATCH = 500
Sink = Callable[[str, Iterator[str]], int]   # (table, JSON lines) -> how many were written


class SnapshotRefused(Exception):
    """The database or the snapshot does not allow this restore; the message says why."""


def _encode(field, value):
    if value is None:
        return None
    if isinstance(field, BlobField):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(field, (DateTimeField, DateField)) or isinstance(value, (datetime, date)):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return value


def _decode(field, value):
    if value is None:
        return None
    if isinstance(field, BlobField):
        return base64.b64decode(value)
    if isinstance(field, DateTimeField):
        return datetime.fromisoformat(value)
    if isinstance(field, DateField):
        return date.fromisoformat(value)
    return value


def _lines(model) -> Iterator[str]:
    fields = model._meta.sorted_fields
    query = model.select(*fields).order_by(model._meta.primary_key).tuples()
    for row in query.iterator():
        record = {field.name: _encode(field, value) for field, value in zip(fields, row)}
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)


@contextmanager
def consistent_view() -> Iterator[str]:
    """Hold one view of the whole database for the reads inside; yield the engine's name.

    SQLite is first copied through its online backup API (writers go on meanwhile) and read from
    the copy; PostgreSQL and MySQL read in one repeatable-read transaction.
    """
    db = database.obj
    if isinstance(db, SqliteDatabase):
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "snapshot.sqlite3"
            source = sqlite3.connect(db.database)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
            with _bound(SqliteDatabase(str(copy))):
                yield "sqlite"
        return
    engine = "postgresql" if db.__class__.__name__.startswith("Postgres") else "mysql"
    if engine == "mysql":
        db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    with db.atomic():
        if engine == "postgresql":
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield engine


@contextmanager
def _bound(db) -> Iterator[None]:
    # Bound to this context rather than installed as the process's own: a park enterprise's database may
    # be the one bound here, and installing the copy would leave that binding in front of it.
    token = bind(db)
    try:
        yield
    finally:
        db.close()
        unbind(token)


def dump(sink: Sink) -> dict:
    """Write every table's rows through sink in one consistent view; return the manifest's database part."""
    with consistent_view() as engine:
        version = current_version()
        tables = {model._meta.table_name: sink(model._meta.table_name, _lines(model)) for model in MODELS}
    return {"engine": engine, "schema_version": version, "tables": tables}


def rows_stored() -> int:
    """Return how many rows the product's tables hold (the schema stamp does not count)."""
    if current_version() is None:
        return 0
    return sum(model.select().count() for model in MODELS if model is not SchemaVersion)


def load(source: Callable[[str], Iterator[str]], *, schema_version: int, head: int, force: bool = False) -> dict:
    """Fill the database from source(table) lines; refuse a newer schema or, without force, existing rows."""
    if schema_version > head:
        raise SnapshotRefused(f"备份的数据库结构为第 {schema_version} 版，比本程序的第 {head} 版新：请先升级程序")
    if rows_stored() and not force:
        raise SnapshotRefused("目标数据库不是空的：恢复会覆盖其中的数据，确认无误请加 --force")
    upgrade()
    counts = {}
    ordered = [model for model in sort_models(MODELS) if model is not SchemaVersion]   # referenced first
    with database.atomic():
        for model in reversed(ordered):
            own = {f.name: None for f in _own_links(model)}
            if own:   # RESTRICT is checked row by row: unlink a tree before deleting it
                model.update(**own).execute()
            model.delete().execute()
        for model in ordered:
            counts[model._meta.table_name] = _insert(model, source(model._meta.table_name))
    _reset_sequences()
    return counts


def _own_links(model) -> list:
    return [f for f in model._meta.sorted_fields if isinstance(f, ForeignKeyField) and f.rel_model is model]


def _insert(model, lines: Iterator[str]) -> int:
    fields = {field.name: field for field in model._meta.sorted_fields}
    # A row pointing at a row of its own table (a department's parent) may come before it: link after.
    own = [f.name for f in _own_links(model)]
    later, batch, count = [], [], 0
    for line in lines:
        record = json.loads(line)
        row = {name: _decode(fields[name], value) for name, value in record.items() if name in fields}
        links = {name: row.pop(name) for name in own if row.get(name) is not None}
        if links:
            later.append((row[model._meta.primary_key.name], links))
        batch.append(row)
        count += 1
        if len(batch) >= BATCH:
            model.insert_many(batch).execute()
            batch = []
    if batch:
        model.insert_many(batch).execute()
    for key, links in later:
        model.update(**links).where(model._meta.primary_key == key).execute()
    return count


def _reset_sequences() -> None:
    """Let PostgreSQL's next insert take an id after the restored ones."""
    db = database.obj
    if not db.__class__.__name__.startswith("Postgres"):
        return
    for model in MODELS:
        pk = model._meta.primary_key
        if getattr(pk, "field_type", "") != "AUTO":
            continue
        table = model._meta.table_name
        db.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk.column_name}'), "
                       f"COALESCE((SELECT MAX(\"{pk.column_name}\") FROM \"{table}\"), 0) + 1, false)")
