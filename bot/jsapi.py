"""The JS-SDK config a page opened in the chat app needs before it may ask the phone where it is.

WeCom's wx.config and DingTalk's dd.config are signed alike: SHA-1 of
jsapi_ticket=…&noncestr=…&timestamp=…&url=… with the page's address up to any '#' (docs/wecom.md,
docs/dingtalk.md "JS-SDK"). The ticket is fetched with the access token, lives 7200 s, and its
fetches are rationed, so every process shares one through Redis.
"""
from __future__ import annotations

import hashlib
import secrets
import time

TICKET_SECONDS = 7200


def sign(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """Return the config signature of the page at url."""
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url.split('#')[0]}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def signed(ticket: str, url: str, *, clock=time.time) -> tuple[str, int, str]:
    """Return a fresh (nonce, timestamp, signature) for the page at url."""
    nonce, timestamp = secrets.token_hex(8), int(clock())
    return nonce, timestamp, sign(ticket, nonce, timestamp, url)
