"""Permit numbers a person can read aloud: type prefix, date, sequence (DH-20261124-0007)."""
from __future__ import annotations

from datetime import date

from models import PermitCounter


def next_number(prefix: str, day: date) -> str:
    """Hand out the next number for prefix on day; call inside the creating transaction.

    The counter row is updated before it is read, so a concurrent transaction waits on its lock
    instead of reading the same value.
    """
    key = f"{prefix}-{day:%Y%m%d}"
    PermitCounter.insert(key=key, value=0).on_conflict_ignore().execute()
    PermitCounter.update(value=PermitCounter.value + 1).where(PermitCounter.key == key).execute()
    return f"{key}-{PermitCounter.get(PermitCounter.key == key).value:04d}"
