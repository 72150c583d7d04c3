"""Signed checkpoints of the audit chain's head, kept where the database writer cannot rewrite them.

Each checkpoint is one JSON line appended to a file outside the database (the instance folder or
AUDIT_CHECKPOINTS), MAC'd with the audit key. verify-audit holds the chain to every checkpoint: an
event a checkpoint names must still carry the hash it had, and the chain may not end before it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import settings
from models import AuditEvent, AuditHead, utcnow

from .verdict import Broken


@dataclass(frozen=True)
class Checkpoint:
    line: int      # 1-based line of the file
    seq: int
    hash: str
    at: str


def _mac(seq: int, digest: str, at: str) -> str:
    message = f"audit-checkpoint:{seq}:{digest}:{at}".encode("ascii")
    return hmac.new(settings.audit_key(), message, hashlib.sha256).hexdigest()


def write(*, path: Path | None = None, now: datetime | None = None) -> Checkpoint | None:
    """Append a signed checkpoint of the current head; return it (None for an empty chain)."""
    head = AuditHead.get_or_none(AuditHead.id == 1)
    if head is None or head.seq == 0:
        return None
    path = path or settings.audit_checkpoints()
    at = (now or utcnow()).isoformat()
    line = json.dumps({"seq": head.seq, "hash": head.hash, "at": at, "mac": _mac(head.seq, head.hash, at)},
                      separators=(",", ":")) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: writers on one machine never interleave a line; fsync: a checkpoint survives a crash.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return Checkpoint(len(path.read_text(encoding="ascii").splitlines()), head.seq, head.hash, at)


def read(path: Path | None = None) -> tuple[list[Checkpoint], str | None]:
    """Return the file's checkpoints and the first problem with one of its lines (None: all signed)."""
    path = path or settings.audit_checkpoints()
    if not path.exists():
        return [], None
    found = []
    for number, text in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        try:
            entry = json.loads(text)
            seq, digest, at, mac = int(entry["seq"]), str(entry["hash"]), str(entry["at"]), str(entry["mac"])
        except (ValueError, KeyError, TypeError):
            return found, f"checkpoint line {number} of {path} is not a checkpoint"
        if not hmac.compare_digest(mac, _mac(seq, digest, at)):
            return found, f"checkpoint line {number} of {path} is not signed with the audit key"
        found.append(Checkpoint(number, seq, digest, at))
    return found, None


def check(upto: int):
    """Return how the chain (verified up to event #upto) departs from the checkpoints, or None."""
    found, problem = read()
    if problem:
        return Broken(None, None, None, None, problem)
    for point in found:
        if point.seq > upto:
            return Broken(upto + 1, None, None, None,
                          f"the chain ends at event #{upto} but checkpoint line {point.line} ({point.at}) records "
                          f"event #{point.seq}: events after #{upto} were deleted")
        event = AuditEvent.get_or_none(AuditEvent.seq == point.seq)
        if event is None or event.hash != point.hash:
            return Broken(point.seq, event.id if event else None, event.permit_no if event else None,
                          event.action if event else None,
                          f"event #{point.seq} differs from checkpoint line {point.line} ({point.at}): the chain "
                          f"up to it was rewritten since, even if its MACs agree")
    return None


def latest(path: Path | None = None) -> Checkpoint | None:
    """Return the newest signed checkpoint, or None."""
    found, _ = read(path)
    return found[-1] if found else None
