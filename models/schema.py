"""Create or upgrade the schema through numbered migrations, never by drop-and-recreate.

A fresh database gets every table as the models define them today and is stamped with the newest
migration number (the same practice as Alembic's "create_all, then stamp head"). An existing
database gets each migration newer than its stamp, in order, each in its own transaction.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from playhouse.migrate import MySQLDatabase, MySQLMigrator, PostgresqlMigrator, SqliteMigrator

from .db import database
from .tables import MODELS
from .version import SchemaVersion


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Callable  # up(migrator) alters an existing schema by one version


def discover() -> list[Migration]:
    """Return the migrations under models/migrations/, named mNNNN_what.py, in order."""
    from . import migrations
    found = []
    for info in pkgutil.iter_modules(migrations.__path__):
        if not info.name.startswith("m") or not info.name[1:5].isdigit():
            continue
        module = importlib.import_module(f"{migrations.__name__}.{info.name}")
        found.append(Migration(int(info.name[1:5]), info.name, module.up))
    return sorted(found, key=lambda m: m.version)


def _migrator():
    db = database.obj
    if isinstance(db, MySQLDatabase):
        return MySQLMigrator(db)
    if db.__class__.__name__.startswith("Postgres"):
        return PostgresqlMigrator(db)
    return SqliteMigrator(db)


def current_version() -> int | None:
    """Return the schema's stamp, or None for a database this app never touched."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade(migrations: list[Migration] | None = None) -> list[str]:
    """Bring the schema up to date; return what was done, one line per step."""
    migrations = discover() if migrations is None else migrations
    head = migrations[-1].version if migrations else 0
    version = current_version()
    if version is None:
        with database.atomic():
            database.create_tables(MODELS)
            SchemaVersion.create(version=head)
        return [f"created schema at version {head}"]
    done = []
    for migration in migrations:
        if migration.version <= version:
            continue
        with database.atomic():
            migration.up(_migrator())
            SchemaVersion.create(version=migration.version)
        done.append(f"applied {migration.name}")
    return done or [f"schema is up to date at version {version}"]
