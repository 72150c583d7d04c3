"""The inbox: an event the platform will not send again is stored before its frame is acknowledged.

DingTalk delivers a Stream CALLBACK frame (a card click, a robot message) once and never again, ACKed
or not. So the Stream door stores the event, with its frame id as a unique key, and only then ACKs;
the handling runs from the stored row in an rq job. A process killed between the ACK and the
handling, or a job lost with Redis, leaves the row unhandled, and the sweep (at the Stream process's
start and in every scan) hands it on again. A row is handled once: the job skips a handled row, and
dispatch's own de-duplication stops two jobs racing on one row.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta

from peewee import IntegrityError

import models
from bot.base import ANONYMOUS, Event, sender_for_log
from models import InboxEvent, utcnow

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=30)   # an unhandled row this old lost its job: the sweep enqueues it again
KEEP_HANDLED = timedelta(days=7)      # handled rows are evidence of receipt for a week, then pruned
KEPT, DUPLICATE, IGNORED = "kept", "duplicate", "ignored"


def keep(event: Event, *, topic: str) -> str:
    """Store event under its frame's identity and enqueue its handling; return kept, duplicate or ignored.

    Raises when the row cannot be stored: the frame must then not be ACKed as received.
    """
    if event.kind == "unknown":
        log.info("%s %s event from %s not kept: nothing handles it", event.platform, topic, event.user_id)
        return IGNORED
    with models.database.connection_context():
        try:
            with models.database.atomic():
                row = InboxEvent.create(dedupe_key=event.dedupe_key[:191], platform=event.platform, topic=topic,
                                        message_id=event.msg_id[:128], data=_dumps(event))
        except IntegrityError:
            log.info("%s frame %s arrived again; already kept", event.platform, event.dedupe_key)
            return DUPLICATE
    _enqueue(row.id)
    return KEPT


def handle_kept(row_id: int) -> str:
    """Handle one kept event unless it was handled already; return what happened (an rq job)."""
    from jobs.connection import redis
    from jobs.delivery import enqueue
    from .dispatch import dispatch
    claimed = (InboxEvent.update(attempts=InboxEvent.attempts + 1)
               .where((InboxEvent.id == row_id) & InboxEvent.handled_at.is_null()).execute())
    if not claimed:
        return "already handled"
    row = InboxEvent.get_by_id(row_id)
    event = _loads(row.data)
    result = dispatch(event, redis=redis(), enqueue=enqueue)   # Busy propagates: the row stays for the sweep
    if result == ANONYMOUS:
        # An anonymous report leaves no trace of its arrival: not who sent it, nor the instant it came,
        # which a join against the sender's other messages could match. DingTalk never resends a
        # CALLBACK frame, so the dedupe key is not needed after handling.
        InboxEvent.delete().where(InboxEvent.id == row_id).execute()
    else:
        # A handled row keeps only its dedupe key: who sent what is in the tables its handling wrote.
        InboxEvent.update(handled_at=utcnow(), data="{}", result=str(result)[:64]).where(
            InboxEvent.id == row_id).execute()
    log.info("%s %s from %s (kept as %s): %s", event.platform, event.kind, sender_for_log(event, result), row_id,
             result)
    return result


def sweep(*, older_than: timedelta = STALE_AFTER) -> int:
    """Enqueue every unhandled row received before now - older_than; prune old handled rows; return how many."""
    cutoff = utcnow() - older_than
    ids = [r.id for r in InboxEvent.select(InboxEvent.id)
           .where(InboxEvent.handled_at.is_null() & (InboxEvent.received_at <= cutoff))
           .order_by(InboxEvent.id)]
    for row_id in ids:
        _enqueue(row_id)
    InboxEvent.delete().where(InboxEvent.handled_at < utcnow() - KEEP_HANDLED).execute()
    if ids:
        log.warning("inbox sweep: %d kept event(s) had not been handled; enqueued again", len(ids))
    return len(ids)


def _enqueue(row_id: int) -> None:
    from jobs.connection import queue
    try:
        queue("default").enqueue(handle_kept, row_id, job_id=f"inbox-{row_id}")
    except Exception as exc:  # noqa: BLE001 - the row is stored; the sweep enqueues it once Redis is back
        log.warning("inbox row %s stored but not enqueued (%s); the sweep will", row_id, exc)


def _dumps(event: Event) -> str:
    return json.dumps(asdict(event), ensure_ascii=False, default=str)


def _loads(text: str) -> Event:
    fields = json.loads(text)
    fields["selected"] = tuple(fields.get("selected") or ())
    return Event(**fields)
