"""Signatures bound into the audit chain: the event of the command that made a signature records its row.

verify-audit then compares every signature row with its record, so a signature edited, deleted,
re-assigned to another person or added by hand is named, as a permit's content is.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from models import AuditEvent, Person, Signature
from models.permit import Permit

from .canonical import plain, whole_seconds
from .verdict import Broken

PAGE = 1000
FIELDS = ("id", "permit", "step", "round", "person", "decision", "comment", "evidence", "channel", "signed_at")


@dataclass(frozen=True)
class Recorded:
    seq: int
    event_id: int
    permit_no: str | None
    action: str
    row: dict


def record(signature: Signature) -> dict:
    """Return the audited content of a signature row as plain JSON."""
    at = signature.signed_at
    return plain({
        "id": signature.id, "permit": signature.permit_id, "step": signature.step_id, "round": signature.round,
        "person": signature.person_id, "decision": signature.decision, "comment": signature.comment,
        "evidence": signature.evidence, "channel": signature.channel,
        "signed_at": whole_seconds(at).isoformat() if isinstance(at, datetime) else at})


def collect(event: AuditEvent, into: dict[int, Recorded]) -> None:
    """Remember the signature rows event records, by signature id."""
    rows = event.data.get("signatures") if isinstance(event.data, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("id"), int):
            into[row["id"]] = Recorded(event.seq, event.id, event.permit_no, event.action, row)


def _rows() -> Iterator[Signature]:
    last = 0
    while True:
        page = list(Signature.select().where(Signature.id > last).order_by(Signature.id).limit(PAGE))
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].id


def _recorded_later(signature_id: int, *, after: int) -> Recorded | None:
    """Find the record of a signature appended while verify() walked the chain."""
    found: dict[int, Recorded] = {}
    for event in AuditEvent.select().where(AuditEvent.seq > after).order_by(AuditEvent.seq):
        collect(event, found)
    return found.get(signature_id)


def _shown(key: str, value) -> str:
    if key == "person" and isinstance(value, int):
        person = Person.get_or_none(Person.id == value)
        return f"{person.name}（#{value}）" if person else f"#{value}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _permit_no(permit_id) -> str:
    permit = Permit.get_or_none(Permit.id == permit_id)
    return permit.no if permit else f"#{permit_id}"


def check(recorded: dict[int, Recorded], *, upto: int):
    """Return the first signature that differs from its record, has none, or was deleted; else None."""
    for signature in _rows():
        then = recorded.pop(signature.id, None) or _recorded_later(signature.id, after=upto)
        now = record(signature)
        if then is None:
            return Broken(None, None, _permit_no(signature.permit_id), None,
                          f"signature #{signature.id} of permit {_permit_no(signature.permit_id)} has no audit "
                          f"record: it was written outside the engine")
        if then.row != now:
            parts = [f"{key} is {_shown(key, now.get(key))} in the database but {_shown(key, then.row.get(key))} "
                     f"in audit event #{then.seq}" for key in FIELDS if now.get(key) != then.row.get(key)]
            return Broken(then.seq, then.event_id, then.permit_no, then.action,
                          f"signature #{signature.id} of permit {_permit_no(signature.permit_id)}: " + "; ".join(parts))
    if recorded:
        gone = min(recorded.values(), key=lambda r: r.seq)
        signature_id = next(i for i, r in recorded.items() if r is gone)
        return Broken(gone.seq, gone.event_id, gone.permit_no, gone.action,
                      f"signature #{signature_id} of permit {gone.permit_no or _permit_no(gone.row.get('permit'))}, "
                      f"recorded in audit event #{gone.seq}, "
                      f"is no longer in the database (deleted)")
    return None
