"""What verify-audit found: the first broken thing, named, and the report the CLI prints."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Broken:
    """The first problem verify() found; event_id is None when no stored event can be named."""
    seq: int | None
    event_id: int | None
    permit_no: str | None
    action: str | None
    what: str


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    checked: int
    broken: Broken | None = None

    def text(self) -> str:
        """Return the report as one line for the CLI."""
        if self.broken is None:
            return f"OK: {self.checked} events, chain intact"
        b = self.broken
        where = f" [event id {b.event_id}, action {b.action}, permit {b.permit_no or '-'}]" if b.event_id else ""
        return f"BROKEN: {b.what}{where}; {self.checked} events verified before it"
