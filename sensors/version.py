"""The registry's change counter: one row that grows whenever a detector, gateway or binding changes."""
from __future__ import annotations

from models import RegistryVersion


def changed() -> None:
    """Tell every process to rebuild its detector map (inside the caller's transaction)."""
    if not RegistryVersion.update(value=RegistryVersion.value + 1).execute():
        RegistryVersion.create(value=1)


def current() -> int:
    """Return the counter's value (0 before the first change)."""
    row = RegistryVersion.select(RegistryVersion.value).first()
    return row.value if row else 0
