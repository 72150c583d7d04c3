"""Per-recipient sliding-window send limits kept in Redis, shared by every process."""
from __future__ import annotations

import math
import uuid
from typing import Sequence

from redis import Redis

from bot.base import RateLimited

# WeCom delivers at most 30 app messages per member per minute and 1000 per hour and silently drops the
# rest, so a send must be refused (and requeued) before it is made, not detected afterwards.
WECOM_MEMBER_LIMITS: tuple[tuple[int, float], ...] = ((30, 60.0), (1000, 3600.0))

# One sorted set per member holds the send times (ms) of the longest window; each window counts its tail.
# Time comes from Redis itself so that processes on different machines agree on it.
# KEYS[1] the member's set; ARGV[1] unique entry id, then (limit, window_ms) pairs, longest window first.
# Returns 0 when a slot was taken, else the milliseconds until one frees up.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local longest = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 2, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = '(' .. (now - window)
  local count = redis.call('ZCOUNT', KEYS[1], since, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return math.max(wait, 1) end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], longest)
return 0
"""


class MemberLimiter:
    """Take a send slot for one recipient from every window, atomically, or say how long to wait."""

    def __init__(self, redis: Redis, prefix: str, limits: Sequence[tuple[int, float]] = WECOM_MEMBER_LIMITS):
        if not limits:
            raise ValueError("at least one (limit, window) pair is needed")
        self._redis, self._prefix = redis, prefix
        ordered = sorted(limits, key=lambda lw: lw[1], reverse=True)
        self._args = [x for limit, window in ordered for x in (int(limit), int(window * 1000))]
        self._take = redis.register_script(_TAKE)

    def take(self, member: str) -> None:
        """Consume one slot for `member`, or raise RateLimited with the seconds until one is free."""
        # WeCom user ids are case-insensitive (it answers them lower-cased): count them as one member.
        key = f"{self._prefix}:{member.lower()}"
        wait_ms = int(self._take(keys=[key], args=[uuid.uuid4().hex, *self._args]))
        if wait_ms:
            retry_after = math.ceil(wait_ms) / 1000
            raise RateLimited(retry_after, f"send limit reached for {member}; retry in {retry_after:.1f} s")

    def reset(self, member: str) -> None:
        """Forget every recorded send to `member`."""
        self._redis.delete(f"{self._prefix}:{member.lower()}")
