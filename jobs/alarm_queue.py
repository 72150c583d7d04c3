"""The alarm lane's queue: outbox ids on a plain Redis list, popped by a long-lived loop.

An rq job costs about two dozen Redis round trips between enqueue and finish (the job hash, the
unique-job script, the started and finished registries, heartbeats), as much CPU as sending the
card itself. An alarm card needs none of it: the outbox row is the durable truth (written in the
alarm's transaction), the list only says "look now". The request pushes the ids right after its
commit; the loop wakes on BLPOP at once and delivers. Anything the list loses (Redis restarted, a
loop killed between pop and send) is still pending in the outbox, and the sweep pushes it again.

The loop itself is jobs.lanes.serve_alarms. A row is pushed once while it waits: a marker key per
id, set with the push and dropped at the pop, stops the sweep and concurrent requests from piling
copies of it on the list. A marker orphaned by a crash expires after the outbox lease, so the row
is pushed again.

A park enterprise's row goes on the same list as `<code>:<id>` (ids are per database), and the loop
delivers it on that enterprise's database.
"""
from __future__ import annotations

import logging

from .connection import redis

log = logging.getLogger(__name__)
KEY = "permit:alarm-lane"
MARK = "permit:alarm-lane:queued:"
LOOPS = "permit:alarm-lane:loops"   # each serving loop's last sign of life, by host and pid
WAIT = 1   # seconds one BLPOP blocks: how soon a stopping loop notices, not how soon an alarm goes
ALIVE = 30  # a loop silent this long is counted as gone

# One round trip for any number of ids: push each id whose marker was not yet set.
_PUSH = """
local pushed = 0
for i, id in ipairs(ARGV) do
  if i > 1 and redis.call('SET', KEYS[2] .. id, '1', 'NX', 'EX', ARGV[1]) then
    redis.call('RPUSH', KEYS[1], id)
    pushed = pushed + 1
  end
end
return pushed
"""


def push(outbox_ids: list[int]) -> int:
    """Put the rows on the alarm lane unless already waiting there; return how many were added."""
    if not outbox_ids:
        return 0
    import settings
    from park.enterprises import current
    ttl = max(1, settings.current().outbox_lease_seconds)
    code = current()
    entries = [f"{code}:{i}" for i in outbox_ids] if code else outbox_ids
    return int(redis().eval(_PUSH, 2, KEY, MARK, ttl, *entries))


def depth() -> int:
    """How many alarm cards wait on the lane."""
    return int(redis().llen(KEY))


def pop(block: bool = True) -> int | None:
    """Take the next waiting row's id (waiting up to WAIT seconds when block), or None."""
    entry = pop_entry(block)
    return entry[1] if entry is not None else None


def pop_entry(block: bool = True) -> tuple[str | None, int] | None:
    """Take the next waiting row as (its enterprise's code or None, its id), or None."""
    conn = redis()
    if block:
        found = conn.blpop([KEY], timeout=WAIT)
        raw = found[1] if found else None
    else:
        raw = conn.lpop(KEY)
    if raw is None:
        return None
    # Dropped now, not after the send: a send that fails leaves the row pending, and the sweep
    # must be free to push it again.
    conn.delete(MARK + raw.decode())
    code, _, outbox_id = raw.decode().rpartition(":")
    return code or None, int(outbox_id)


def alive() -> int:
    """How many loops serve the alarm lane now (each says so at least every WAIT seconds)."""
    import time
    return int(redis().zcount(LOOPS, time.time() - ALIVE, "+inf"))
