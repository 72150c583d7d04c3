"""Signed links of a meeting: its page to read (on the card), and the code shown at its place (check-in).

The place code proves presence, so it is never on a card: a card's link opens the page to read only.
Each signature covers the meeting's id, day and leader; exactly one string opens a link. A park
enterprise's link names the enterprise as a permit's link does (cards/links.py).
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Mapping

from itsdangerous import Signer

import settings
from cards import links
from models.meeting import Meeting

PARAMS = {"view": "v", "place": "m"}


def token(meeting: Meeting, purpose: str) -> str:
    signer = Signer(settings.signing_key(), salt=f"meeting-{purpose}", digest_method=hashlib.sha256)
    message = f"meeting|{meeting.id}|{meeting.day}|{meeting.leader_id}{links.signed_enterprise()}"
    return links.stamped(signer.get_signature(message.encode()).decode())


def path(meeting: Meeting, purpose: str = "view", extra: str = "") -> str:
    return f"/meeting/{meeting.id}{extra}?{PARAMS[purpose]}={token(meeting, purpose)}"


def url(meeting: Meeting, purpose: str = "view", *, extra: str = "", base_url: str | None = None) -> str:
    """Return the absolute signed URL of the meeting's page (view) or of the code at its place (place)."""
    base = (base_url if base_url is not None else settings.current().public_base_url).rstrip("/")
    return base + path(meeting, purpose, extra)


def opened(meeting_id: int, args: Mapping[str, str], purposes: tuple[str, ...]) -> tuple[Meeting, str] | None:
    """Return the meeting and the purpose its link grants, None for a forged link or an unknown meeting."""
    meeting = Meeting.get_or_none(Meeting.id == meeting_id)
    if meeting is None:
        return None
    for purpose in purposes:
        given = str(args.get(PARAMS[purpose]) or "")
        if given and hmac.compare_digest(token(meeting, purpose).encode(), given.encode("utf-8", "replace")):
            return meeting, purpose
    return None
