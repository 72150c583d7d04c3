"""WeCom's smart robot over its long connection as a Channel: the same template cards, other verbs.

A proactive card (aibot_send_msg) hands out nothing to update it with; a click does: the click
frame's req_id, usable once and within 5 s, with aibot_respond_update_msg. So the click's req_id is
this channel's single-use update token, exactly where the callback channel keeps a response code.
An update that missed its window is sent as a new card instead, so the person still sees the outcome.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import replace

import requests

from cards import wecom as render
from cards.card import Card

from .base import PlatformError
from .channel import Limits, rendered
from .wecom_ws_bridge import Bridge

TASK_ID_TAKEN = 42014     # the sandbox's answer to a reused task_id, as message/send gives it [unverified on ws]
WINDOW_CLOSED = (846605, 846607)   # sandbox codes: req_id unknown or past its 5 s window [unverified]
TEXT_LIMIT = 2048         # bytes of one markdown message we allow ourselves [unverified: no documented cap]
FILE_LIMIT = 20 * 1024 * 1024   # WeCom's cap on a temporary file
CHUNK = 512 * 1024        # bytes of one upload chunk before base64 (the SDK's CHUNK_SIZE)


class WeComWsChannel:
    """Deliver through the robot's long connection; reach people by their WeCom userid."""

    platform = "wecom_ws"
    name = "企业微信"
    single_use_updates = True
    limits = Limits(text_bytes=TEXT_LIMIT, file_bytes=FILE_LIMIT)
    max_file_bytes = FILE_LIMIT

    def __init__(self, bridge: Bridge, *, public_base_url: str, oauth=None, timeout: float = 10.0):
        self.bridge, self.public_base_url, self.oauth, self.timeout = bridge, public_base_url, oauth, timeout
        self.adapter = self   # what registry.adapter_for hands out; this channel is its own adapter

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card with aibot_send_msg; a proactive card has no update token, so return None."""
        body = {"chatid": user, "msgtype": "template_card", "template_card": rendered(render.render, card)}
        try:
            self.bridge.call("aibot_send_msg", body)
        except PlatformError as exc:
            if exc.code != TASK_ID_TAKEN:
                raise
        return None

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Replace the clicked card (token: the click frame's req_id); past the window, send it anew."""
        if not card.url:
            # A text_notice must open something; the plant's own address is the least surprising place.
            card = replace(card, url=self.public_base_url)
        template = rendered(render.render_update, card)["template_card"]
        if token:
            body = {"response_type": "update_template_card", "userids": [user], "template_card": template}
            try:
                self.bridge.call("aibot_respond_update_msg", body, req_id=token)
                return
            except PlatformError as exc:
                if exc.code not in WINDOW_CLOSED:
                    raise
        # No live click to answer: the outcome goes out as a new message with a task id of its own.
        suffix = hashlib.sha1((token or "none").encode()).hexdigest()[:6]
        fresh = {**template, "task_id": f"{card.task_id[:120]}-u{suffix}"}
        try:
            self.bridge.call("aibot_send_msg", {"chatid": user, "msgtype": "template_card", "template_card": fresh})
        except PlatformError as exc:
            if exc.code != TASK_ID_TAKEN:
                raise

    def send_text(self, user: str, text: str) -> None:
        """Send text as a markdown message (aibot_send_msg has no plain text type)."""
        self.bridge.call("aibot_send_msg", {"chatid": user, "msgtype": "markdown", "markdown": {"content": text}})

    def send_file(self, user: str, filename: str, data: bytes) -> None:
        """Upload data in chunks (init, chunk x N, finish) and send it as a file message."""
        if len(data) > FILE_LIMIT:
            raise PlatformError("file_too_large", f"{filename}: {len(data)} bytes", retryable=False)
        chunks = max(1, math.ceil(len(data) / CHUNK))
        init = self.bridge.call("aibot_upload_media_init", {
            "type": "file", "filename": filename, "total_size": len(data), "total_chunks": chunks,
            "md5": hashlib.md5(data).hexdigest()})
        upload_id = (init.get("body") or {}).get("upload_id")
        if not upload_id:
            raise PlatformError("upload_failed", f"{filename}: init answered no upload_id", retryable=True)
        for index in range(chunks):
            piece = data[index * CHUNK:(index + 1) * CHUNK]
            self.bridge.call("aibot_upload_media_chunk", {"upload_id": upload_id, "chunk_index": index,
                                                          "base64_data": base64.b64encode(piece).decode()})
        finish = self.bridge.call("aibot_upload_media_finish", {"upload_id": upload_id})
        media_id = (finish.get("body") or {}).get("media_id")
        if not media_id:
            raise PlatformError("upload_failed", f"{filename}: finish answered no media_id", retryable=True)
        self.bridge.call("aibot_send_msg", {"chatid": user, "msgtype": "file", "file": {"media_id": media_id}})

    def fetch_media(self, media_id: str) -> bytes:
        """Download and decrypt what a person sent; media_id is the reference media_ref() made."""
        from wecom_aibot_sdk.crypto import decrypt_file
        url, aeskey = _unref(media_id)
        try:
            res = requests.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PlatformError("media_unreachable", f"{type(exc).__name__}", retryable=True) from exc
        if res.status_code != 200:
            raise PlatformError("media_gone", f"HTTP {res.status_code}", retryable=res.status_code >= 500)
        try:
            return decrypt_file(res.content, aeskey) if aeskey else res.content
        except ValueError as exc:
            raise PlatformError("media_undecryptable", str(exc)[:200], retryable=False) from exc

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Pages opened in WeCom prove who opened them through the app's OAuth, when the app is configured."""
        if self.oauth is None:
            raise PlatformError("no_oauth", "WECOM_MODE=ws without the app's WeCom settings has no OAuth",
                                retryable=False)
        return self.oauth.oauth_url(redirect_uri, state)

    def resolve_code(self, code: str) -> str:
        """Return the userid an OAuth code names (through the app's OAuth)."""
        if self.oauth is None:
            raise PlatformError("no_oauth", "WECOM_MODE=ws without the app's WeCom settings has no OAuth",
                                retryable=False)
        return self.oauth.user_from_oauth_code(code)


def media_ref(url: str, aeskey: str) -> str:
    """Pack where a photo lies and its key into the one media id an Event carries."""
    raw = json.dumps([url, aeskey], separators=(",", ":")).encode()
    return "ws1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unref(media_id: str) -> tuple[str, str]:
    try:
        if not media_id.startswith("ws1."):
            raise ValueError("not a long-connection media reference")
        packed = media_id[4:]
        url, aeskey = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not isinstance(aeskey, str):
            raise ValueError("malformed reference")
    except (ValueError, TypeError) as exc:
        raise PlatformError("bad_media_id", str(exc)[:100], retryable=False) from exc
    return url, aeskey


def build() -> WeComWsChannel:
    """Build the channel from the settings."""
    import settings
    from jobs.connection import redis
    conf = settings.current()
    oauth = None
    if conf.wecom is not None:
        from . import wecom_channel
        oauth = wecom_channel.build().adapter
    return WeComWsChannel(Bridge(redis(), conf.wecom_ws.bot_id), public_base_url=conf.public_base_url, oauth=oauth)
