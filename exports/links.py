"""Download links that work for a short time: the file under an unguessable name, and when it lapses.

The 256-bit random token is the whole capability, so no signing key has to be shared between the
worker that writes the file and the web process that serves it; they share the instance folder,
as they already do for attachments.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import settings
from models import utcnow

VALID_MINUTES = 30
# 32 bytes in 43 characters: the last character's low 2 bits are padding, zero in the one spelling
# that was issued. A twin with them set names no file on Linux, but would on a case-folding disk.
TOKEN = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    expires_at: datetime    # naive UTC
    expired: bool = False


def folder() -> Path:
    return settings.current().instance_path / "exports" / "links"


def publish(path: Path, *, minutes: int = VALID_MINUTES, now: datetime | None = None) -> tuple[str, datetime]:
    """Copy the file behind a fresh link; return the link's URL and when it lapses (naive UTC)."""
    token = secrets.token_urlsafe(32)
    expires = (now or utcnow()) + timedelta(minutes=minutes)
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target / f"{token}.xlsx")
    (target / f"{token}.json").write_text(json.dumps({"filename": path.name, "expires_at": expires.isoformat()},
                                                     ensure_ascii=False), encoding="utf-8")
    return f"{settings.current().public_base_url}/exports/{token}", expires


def find(token: str, *, now: datetime | None = None) -> Download | None:
    """Return the file behind a link (expired=True once it lapsed, and then deleted); None if unknown."""
    if not TOKEN.fullmatch(token or ""):
        return None
    meta = folder() / f"{token}.json"
    try:
        facts = json.loads(meta.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    found = Download(folder() / f"{token}.xlsx", facts["filename"], datetime.fromisoformat(facts["expires_at"]))
    if found.expires_at > (now or utcnow()):
        return found
    found.path.unlink(missing_ok=True)
    return Download(found.path, found.filename, found.expires_at, expired=True)
