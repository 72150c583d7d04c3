"""Signed links to a permit's board page, so that permit numbers cannot be guessed into views.

Each link carries an HMAC of the permit (its number and creation second) for one purpose:
  view  ?t=  the board, read only: what every card links to;
  site  ?s=  the board as opened by scanning the QR code posted at the work site: check-in allowed;
  print ?p=  the QR code image and the printable permit, for whoever posts them at the site.
A card's link therefore cannot check anyone in: only the code at the site can. A link stops working
BOARD_GRACE_HOURS after its permit ended; unknown, tampered and lapsed links look alike (None).
Exactly one string opens a link: another encoding of the same signature is refused.

A park enterprise's link carries its code in the token (`<code>.<signature>`) and in what is signed:
the board opens on that enterprise's database, and the link opened with another code (whose permit
may well have the same number) or with none is refused like a tampered one.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Iterable, Mapping
from urllib.parse import quote

from itsdangerous import Signer

import settings
from models import utcnow
from models.permit import Permit
from workflow.states import DRAFT, FINAL

PARAMS = {"view": "t", "site": "s", "print": "p"}


def _signer(purpose: str) -> Signer:
    return Signer(settings.signing_key(), salt=f"board-{purpose}", digest_method=hashlib.sha256)


def _message(permit: Permit, purpose: str) -> bytes:
    # The creation second too: a database rebuilt from scratch reuses permit numbers, and an old
    # QR code still on a wall must not open the new permit that got its number.
    text = f"{permit.no}|{permit.created_at:%Y%m%d%H%M%S}"
    # The site code's round: re-issuing it voids the posted code (and its print page) of this permit
    # alone. Round 0 signs as before, so codes printed before rounds existed keep working.
    if purpose != "view" and permit.site_code_round:
        text += f"|r{permit.site_code_round}"
    return (text + signed_enterprise()).encode()


def enterprise() -> str | None:
    """Return the park enterprise this context runs for, None for the deployment's own."""
    from park.enterprises import current
    return current()


def signed_enterprise() -> str:
    """Return what a link's signed message ends with: the enterprise it was issued in, nothing for the deployment's."""
    code = enterprise()
    return f"|e{code}" if code else ""


def stamped(signature: str) -> str:
    """Return a link's token: its signature, after the code of the enterprise it was issued in."""
    code = enterprise()
    return f"{code}.{signature}" if code else signature


def code_in(given: str | None) -> str | None:
    """Return the enterprise code a link's token starts with, None for a token of the deployment's own."""
    code, dot, _ = str(given or "").partition(".")
    return code if dot else None


def token(permit: Permit, purpose: str) -> str:
    """Return the token that grants purpose (view, site or print) on permit (prefixed by its enterprise's code)."""
    return stamped(_signer(purpose).get_signature(_message(permit, purpose)).decode())


def enterprise_of(args: Mapping[str, str], params: Iterable[str] = tuple(PARAMS.values())) -> str | None:
    """Return the park enterprise a link's query names in its token (one of params), or None for the
    deployment's own."""
    for param in params:
        code = code_in(args.get(param))
        if code:
            return code
    return None


def _is_token(permit: Permit, purpose: str, given: str) -> bool:
    # The exact string, not whatever decodes to the same signature: a lenient base64 decoder ignores
    # the padding bits of the last character and any stray character, which would let twins open.
    return hmac.compare_digest(token(permit, purpose).encode(), given.encode("utf-8", "replace"))


def url(permit: Permit, purpose: str = "view", *, path: str = "", base_url: str | None = None) -> str:
    """Return the absolute signed URL of the board (path "" ), its /qr.png or its /print page."""
    base = (base_url if base_url is not None else settings.current().public_base_url).rstrip("/")
    return f"{base}/board/{quote(permit.no)}{path}?{PARAMS[purpose]}={token(permit, purpose)}"


def ends_at(permit: Permit) -> datetime | None:
    """Return when the permit's life ended (closed, or else its planned end), None while it runs."""
    if permit.state not in FINAL:
        return None
    return permit.closed_at or permit.planned_end


def opened(permit_no: str, args: Mapping[str, str], purposes: tuple[str, ...],
           now: datetime | None = None) -> tuple[Permit, str] | None:
    """Return the permit and the first of purposes that args' token grants, or None."""
    permit = Permit.get_or_none(Permit.no == permit_no)
    if permit is None or permit.state == DRAFT:   # a draft has no board: nothing is issued yet
        return None
    granted = next((p for p in purposes if args.get(PARAMS[p]) and _is_token(permit, p, str(args[PARAMS[p]]))), None)
    if granted is None:
        return None
    ended = ends_at(permit)
    if ended is not None and (now or utcnow()) > ended + timedelta(hours=settings.current().board_grace_hours):
        return None
    return permit, granted
