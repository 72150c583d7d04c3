"""Signed links printed as QR labels on the tools, so that a tool's page cannot be guessed from its number.

The signature covers the tool's number alone: a label stuck on a tool must keep working after the
register is reloaded, or the database rebuilt and reloaded from the same workbook. Exactly one string
opens a label (the same rule as the permit's links in cards/links.py). A park enterprise's label names
the enterprise as a permit's link does: its page opens on that enterprise's database, and the same
number's tool of another enterprise is not what it opens.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Mapping
from urllib.parse import quote

from itsdangerous import Signer

import settings
from cards import links
from models.tool import Tool

PARAM = "k"


def _signer() -> Signer:
    return Signer(settings.signing_key(), salt="tool-label", digest_method=hashlib.sha256)


def token(no: str) -> str:
    """Return the token printed in the label of tool number no (prefixed by its enterprise's code)."""
    return links.stamped(_signer().get_signature((no + links.signed_enterprise()).encode()).decode())


def url(tool: Tool, *, base_url: str | None = None) -> str:
    """Return what the tool's QR label holds: the absolute signed URL of its page."""
    base = (base_url if base_url is not None else settings.current().public_base_url).rstrip("/")
    return f"{base}/tools/{quote(tool.no)}?{PARAM}={token(tool.no)}"


def opened(no: str, args: Mapping[str, str]) -> Tool | None:
    """Return the tool when args carry its label's signature exactly, else None (forged and unknown alike)."""
    given = str(args.get(PARAM) or "")
    if not given or not hmac.compare_digest(token(no).encode(), given.encode("utf-8", "replace")):
        return None
    return Tool.get_or_none(Tool.no == no)
