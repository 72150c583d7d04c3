"""Permit numbers a person can read aloud: type prefix, date, sequence (DH-20261124-0007)."""
from __future__ import annotations

from datetime import date

from peewee import MySQLDatabase

from models import PermitCounter, database


def next_number(prefix: str, day: date) -> str:
    """Hand out the next number for prefix on day; call inside the creating transaction.

    One upsert creates or bumps the counter row and takes its lock in the same statement, so a
    concurrent transaction waits on it instead of reading the same value. (An insert-if-missing then an
    update takes a shared lock first and upgrades it, which InnoDB answers with deadlocks.)
    """
    key = f"{prefix}-{day:%Y%m%d}"
    bump = {PermitCounter.value: PermitCounter.value + 1}
    upsert = PermitCounter.insert(key=key, value=1)
    if isinstance(database.obj, MySQLDatabase):   # MySQL names no conflict target
        upsert = upsert.on_conflict(update=bump)
    else:
        upsert = upsert.on_conflict(conflict_target=[PermitCounter.key], update=bump)
    upsert.execute()
    return f"{key}-{PermitCounter.get(PermitCounter.key == key).value:04d}"
