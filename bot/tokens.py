"""An access token cached in Redis, shared by every process, refreshed by one process at a time."""
from __future__ import annotations

import time
import uuid
from typing import Callable

from redis import Redis

from bot.base import PlatformError

# Compare-and-delete: release the lock only if we still hold it (it may have expired and been retaken).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

Fetch = Callable[[], "tuple[str, int]"]


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class TokenStore:
    """Cache one platform access token under a Redis key; refresh under a short lock."""

    def __init__(self, redis: Redis, key: str, *, lock_seconds: float = 10.0, wait_seconds: float = 12.0,
                 poll_seconds: float = 0.05):
        self._redis, self._key, self._lock = redis, key, key + ":lock"
        self._lock_ms, self._wait, self._poll = int(lock_seconds * 1000), wait_seconds, poll_seconds
        self._release = redis.register_script(_RELEASE)

    def get(self, fetch: Fetch) -> str:
        """Return the cached token, fetching one if there is none."""
        return _text(self._redis.get(self._key)) or self.refresh(fetch)

    def peek(self) -> str | None:
        """Return the cached token, if any, without fetching."""
        return _text(self._redis.get(self._key))

    def refresh(self, fetch: Fetch, stale: str | None = None) -> str:
        """Return a token other than `stale`, fetching it unless another process just did.

        With stale=None any cached token will do (nothing was cached when the caller looked).
        """
        deadline = time.monotonic() + self._wait
        while True:
            cached = _text(self._redis.get(self._key))
            if cached and cached != stale:
                return cached
            me = uuid.uuid4().hex
            if self._redis.set(self._lock, me, nx=True, px=self._lock_ms):
                try:
                    # Re-read under the lock: the previous holder may have stored a fresh token
                    # between our read and our acquiring the lock.
                    cached = _text(self._redis.get(self._key))
                    if cached and cached != stale:
                        return cached
                    token, expires_in = fetch()
                    self._redis.set(self._key, token, ex=_ttl(expires_in))
                    return token
                finally:
                    self._release(keys=[self._lock], args=[me])
            if time.monotonic() > deadline:
                raise PlatformError("token", "timed out waiting for another process to refresh the token",
                                    retryable=True)
            time.sleep(self._poll)

    def forget(self) -> None:
        """Drop the cached token (tests and credential rotation)."""
        self._redis.delete(self._key)


def _ttl(expires_in: int) -> int:
    """Expire the cache a little before the platform does, so no call carries a token about to die."""
    expires_in = max(int(expires_in), 1)
    return max(expires_in - min(300, expires_in // 5), 1)
