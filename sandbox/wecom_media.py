"""Temporary media (valid three days) and OAuth codes (single-use, five minutes), as WeCom keeps them."""
from __future__ import annotations

import secrets
import threading

from sandbox.wecom_errors import ApiError

MEDIA_TTL = 3 * 86400
OAUTH_CODE_TTL = 300
MEDIA_MAX = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}
MEDIA_MIN = 5
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class MediaStore:
    """Uploaded files by media_id."""

    def __init__(self, now):
        self.now, self._lock, self._files = now, threading.Lock(), {}

    def upload(self, mtype: str | None, filename: str, ctype: str, data: bytes | None) -> dict:
        """Store an uploaded temporary file; return WeCom's answer."""
        if mtype not in MEDIA_MAX:
            raise ApiError(40005, "type must be image, voice, video or file")
        if not data:
            raise ApiError(44001, "multipart field media required")
        if len(data) < MEDIA_MIN:
            raise ApiError(40006, f"at least {MEDIA_MIN} bytes")
        if len(data) > MEDIA_MAX[mtype]:
            raise ApiError(45001, f"{mtype} at most {MEDIA_MAX[mtype]} bytes")
        if mtype == "image" and not data.startswith(IMAGE_MAGIC):
            raise ApiError(40004, "image must be JPG or PNG")
        now = self.now()
        media_id = "3" + secrets.token_urlsafe(40)
        with self._lock:
            self._files[media_id] = {"type": mtype, "filename": filename, "content_type": ctype, "data": data,
                                     "created_at": now, "expires_at": now + MEDIA_TTL}
        return {"errcode": 0, "errmsg": "", "type": mtype, "media_id": media_id, "created_at": str(int(now))}

    def get(self, media_id: str | None) -> dict:
        """Return a live media record, or raise 41006 (missing id) / 40007 (unknown or expired)."""
        if not media_id:
            raise ApiError(41006)
        with self._lock:
            media = self._files.get(media_id)
        if media is None or media["expires_at"] <= self.now():
            raise ApiError(40007)
        return media


class OAuthCodes:
    """Codes WeCom appends to an OAuth redirect; each resolves once, within five minutes."""

    def __init__(self, now, member):
        self.now, self._member, self._lock, self._codes = now, member, threading.Lock(), {}

    def mint(self, userid: str) -> str:
        """Mint a code for userid (a member or not)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"userid": userid, "expires_at": self.now() + OAUTH_CODE_TTL}
        return code

    def resolve(self, code: str | None) -> dict:
        """Answer auth/getuserinfo: a member gets userid, anyone else an openid; used or old codes 40029."""
        if not code:
            raise ApiError(41008)
        with self._lock:
            rec = self._codes.pop(code, None)
        if rec is None or rec["expires_at"] <= self.now():
            raise ApiError(40029)
        user = self._member(rec["userid"])
        if user is None:
            return {"errcode": 0, "errmsg": "ok", "openid": "o" + secrets.token_urlsafe(20)}
        return {"errcode": 0, "errmsg": "ok", "userid": user}
