"""DingTalk HTTP-mode callbacks: the timestamp/sign pair verified, fresh, and accepted once.

DingTalk signs an HTTP callback with sign = base64(HmacSHA256(AppSecret, f"{timestamp}\\n{AppSecret}")).
The sign covers the timestamp only, not the body: a captured pair is a bearer token for anything until
it leaves the window. So each accepted pair is remembered in Redis for as long as it could pass the window
check, and a second use is refused; a robot message's msgId is refused the second time as well. What is
left open (a pair captured and used before DingTalk's own request arrives) is written in docs/dingtalk.md.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Callable, Mapping

from redis import Redis
from redis.exceptions import RedisError

from bot.base import CallbackRejected

DEFAULT_WINDOW = 300     # seconds a timestamp may be off; DingTalk documents 1 h for robot signs
MAX_WINDOW = 3600


class SignRefused(CallbackRejected):
    """A refused HTTP-mode callback; code is the stable name an HTTP caller can rely on."""

    def __init__(self, status: int, code: str, reason: str):
        super().__init__(status, reason)
        self.code = code


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """Return the sign DingTalk sends with a robot callback's timestamp (milliseconds, as a string)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def card_sign(timestamp: str, api_secret: str) -> str:
    """Return the x-ddpaas-signature DingTalk sends with a card callback: base64(HmacSHA256(apiSecret, ts))."""
    digest = hmac.new(api_secret.encode(), timestamp.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def card_api_secret(app_secret: str) -> str:
    """Derive the apiSecret registered for card callbacks from the AppSecret (nothing more to configure)."""
    return hmac.new(app_secret.encode(), b"card-callback-api-secret", hashlib.sha256).hexdigest()[:32]


ROBOT_HEADERS = ("timestamp", "sign")
CARD_HEADERS = ("x-ddpaas-signature-timestamp", "x-ddpaas-signature")


class CallbackGuard:
    """Admit an HTTP-mode callback's headers once, and a robot message's msgId once."""

    def __init__(self, *, secret: str, redis: Redis, scope: str, window: float = DEFAULT_WINDOW,
                 clock: Callable[[], float], headers: tuple[str, str] = ROBOT_HEADERS,
                 signer: Callable[[str, str], str] = dingtalk_sign):
        if not 0 < window <= MAX_WINDOW:
            raise ValueError(f"the callback window must be 1-{MAX_WINDOW} s, not {window}")
        self._secret, self._redis, self._scope, self.window, self._clock = secret, redis, scope, window, clock
        self._headers, self._signer = headers, signer

    def admit(self, headers: Mapping) -> None:
        """Verify timestamp and sign, then spend the pair; raise SignRefused when any of it fails."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        stamp_header, sign_header = self._headers
        timestamp, sign = lowered.get(stamp_header, ""), lowered.get(sign_header, "")
        if not timestamp or not sign:
            raise SignRefused(403, "sign_missing", f"missing {stamp_header} or {sign_header} header")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
            raise SignRefused(400, "timestamp_malformed", "timestamp header is not an integer (milliseconds)")
        if not hmac.compare_digest(self._signer(timestamp, self._secret).encode(),
                                   sign.encode("utf-8", "replace")):
            raise SignRefused(403, "sign_invalid", "bad sign")
        skew = abs(self._clock() - int(timestamp) / 1000)
        if skew > self.window:
            raise SignRefused(403, "timestamp_stale", f"stale timestamp ({skew:.0f} s outside the replay window)")
        # A pair passes the window check for at most 2 × window seconds; remember it that long.
        if not self._first(f"sign:{sign_header}:{timestamp}:{sign}"):
            raise SignRefused(401, "sign_replayed", "this timestamp and sign were used before")

    def admit_message(self, msg_id: str) -> None:
        """Refuse a robot message whose msgId was admitted before."""
        if not self._first(f"msg:{msg_id}"):
            raise SignRefused(409, "message_replayed", "this msgId was received before")

    def forget_message(self, msg_id: str) -> None:
        """Let a msgId in again: its first delivery failed before anything was committed."""
        try:
            self._redis.delete(f"{self._scope}:http-seen:msg:{msg_id}")
        except RedisError:
            pass   # the key expires on its own; a retry meanwhile is refused, not doubled

    def _first(self, what: str) -> bool:
        try:
            return bool(self._redis.set(f"{self._scope}:http-seen:{what}", 1, nx=True,
                                        ex=int(2 * self.window) + 1))
        except RedisError:
            # Without the record a replay cannot be told from a first use: refuse, DingTalk retries.
            raise SignRefused(503, "replay_check_unavailable", "the replay check is unavailable") from None
