"""Deliver the outbox: each row once, even when a worker dies in the middle of sending it.

A row is leased before sending and marked sent after; a sweep re-enqueues rows whose lease ran
out. A resend after a crash reuses the card's task id, which the platform refuses as a duplicate
(WeCom 42014), and that refusal is taken as proof the first send arrived. A send that outlives its
lease (an answer past the client's timeout) records its outcome only if nobody claimed the row since.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import settings
from models import Outbox, transaction, utcnow
from models.db import for_update

from bot.base import PlatformError, RateLimited
from monitoring import metrics

from .connection import ALARM_KINDS

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# A gas alarm's card retried minutes later is as good as lost: it backs off only up to this.
ALARM_RETRY_CAP = 5
SUPERSEDED = "superseded"   # the send ended after its lease, and another worker holds the row now


def _claim(outbox_id: int) -> Outbox | None:
    now = utcnow()
    with transaction():
        row = for_update(Outbox.select().where(Outbox.id == outbox_id)).first()
        if row is None or row.state in ("sent", "failed"):
            return None
        if row.lease_until and row.lease_until > now and row.state == "sending":
            return None  # another worker holds it
        if row.state == "pending" and row.lease_until and row.lease_until > now:
            return None  # backing off after a refusal; the sweep brings it back
        lease = timedelta(seconds=settings.current().outbox_lease_seconds)
        row.state, row.lease_until, row.attempts = "sending", now + lease, row.attempts + 1
        row.save()
        return row


def _release(row: Outbox, *, state: str, wait: timedelta = timedelta(0), error: str | None = None) -> bool:
    """Record how this claim's send ended; return False when the row was no longer this claim's to change.

    A send can outlive its lease (a platform that answers past the client's timeout), and the sweep
    then gives the row to another worker. What that claim does stands: this one's late failure must
    not put a row sent meanwhile back to pending, or the resend doubles a text and every such race
    spends one more of the row's attempts. A send that succeeded is the truth whoever holds the row.
    """
    with transaction():
        now = for_update(Outbox.select().where(Outbox.id == row.id)).first()
        if now is None:
            return False
        mine = now.state != "sent" if state == "sent" else (now.state == "sending" and now.attempts == row.attempts)
        if mine:
            Outbox.update(state=state, lease_until=utcnow() + wait if wait else None,
                          last_error=error, sent_at=utcnow() if state == "sent" else None
                          ).where(Outbox.id == row.id).execute()
        else:
            log.info("outbox %s: attempt %s ended after the row was claimed again; left to that claim",
                     row.id, row.attempts)
        return mine


def _backoff(row: Outbox) -> timedelta:
    """How long a row waits after a failed attempt: an alarm's card never more than a few seconds."""
    cap = ALARM_RETRY_CAP if row.kind in ALARM_KINDS else 300
    return timedelta(seconds=min(cap, 2 ** row.attempts))


def deliver(outbox_id: int) -> str:
    """Send one outbox row through its person's channel; return what happened."""
    row = _claim(outbox_id)
    if row is None:
        return "skipped"
    try:
        platform = _send(row)
    except RateLimited as exc:
        if not _release(row, state="pending", wait=timedelta(seconds=exc.retry_after), error=str(exc)):
            return SUPERSEDED
        return "rate limited"
    except PlatformError as exc:
        if exc.retryable and row.attempts < MAX_ATTEMPTS:
            return "retry later" if _release(row, state="pending", wait=_backoff(row), error=str(exc)) else SUPERSEDED
        return _give_up(row, str(exc))
    except Exception as exc:
        # Unnamed trouble (a network error the SDK did not wrap): back off and count the attempt, so
        # the row ends failed with its reason instead of going round the sweep for ever.
        log.exception("outbox %s to %s: delivery raised", row.id, row.person_id)
        error = f"{type(exc).__name__}: {exc}"
        if row.attempts < MAX_ATTEMPTS:
            return "retry later" if _release(row, state="pending", wait=_backoff(row), error=error) else SUPERSEDED
        return _give_up(row, error)
    _release(row, state="sent")
    if row.kind in ALARM_KINDS:
        _observe_relay(row, platform)
    return "sent"


def _give_up(row: Outbox, error: str) -> str:
    if not _release(row, state="failed", error=error):
        return SUPERSEDED
    log.error("outbox %s to %s failed for good: %s", row.id, row.person_id, error)
    metrics.delivery_failed(row.kind)
    return "failed"


def _send(row: Outbox) -> str:
    from bot.delivery import deliver as send
    from bot.registry import address, group_sender
    if row.person_id is None:   # a broadcast to a group chat: its payload names the group
        system = row.payload.get("system", "")
        group_sender(system).send_group(row.payload["group"], row.payload["text"])
        return system
    channel, user = address(row.person)
    send(channel, row, user)
    return channel.platform


def _observe_relay(row: Outbox, platform: str) -> None:
    # Only the first round measures the relay; a re-send's delay is the escalation's, not the lane's.
    from models import Alarm
    alarm = Alarm.get_or_none(Alarm.id == row.payload.get("alarm"))
    if alarm is not None and row.payload.get("round", 1) == 1:
        metrics.observe_relay(platform, reading_at=alarm.reading_at,
                              sent_at=datetime.now(timezone.utc).replace(tzinfo=None))


def due_rows(limit: int = 500) -> list[int]:
    """Return ids of rows waiting to be sent: new, backed off past their wait, or abandoned by a worker."""
    now = utcnow()
    query = (Outbox.select(Outbox.id)
             .where(Outbox.state.in_(["pending", "sending"])
                    & (Outbox.lease_until.is_null() | (Outbox.lease_until <= now)))
             .order_by(Outbox.id).limit(limit))
    return [row_id for (row_id,) in query.tuples()]


def enqueue(outbox_ids, queue=None) -> None:
    """Put one delivery job per row on its lane's queue, unless that row's job is already waiting or running.

    An alarm's cards take the alarm lane (a plain list, see alarm_queue), everything else the
    ordinary one; queue, when given, takes every row. A duplicate job would be harmless (the lease lets one send), but under load
    the sweep and concurrent requests would enqueue the same rows over and over, and the queue
    would grow with jobs that do nothing.
    """
    from .connection import ALARM, lane_for, queue as named_queue
    ids = list(outbox_ids)
    if not ids:
        return
    if queue is not None:
        _enqueue_on(queue, ids)
        return
    kinds = dict(Outbox.select(Outbox.id, Outbox.kind).where(Outbox.id.in_(ids)).tuples())
    lanes: dict[str, list[int]] = {}
    for outbox_id in ids:
        if outbox_id in kinds:
            lanes.setdefault(lane_for(kinds[outbox_id]), []).append(outbox_id)
    # The alarm lane first: its loop starts sending while the rest are still being queued.
    if ALARM in lanes:
        from . import alarm_queue
        alarm_queue.push(lanes.pop(ALARM))
    for lane, rows in lanes.items():
        _enqueue_on(named_queue(lane), rows)


def _enqueue_on(queue, outbox_ids: list[int]) -> None:
    from rq.exceptions import DuplicateJobError, NoSuchJobError
    from rq.job import Job, JobStatus
    from .tenancy import scoped
    WAITING = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
    for outbox_id in outbox_ids:
        job_id = f"deliver-{outbox_id}"
        scoped_id = scoped(job_id)   # the id the queue gives it in the bound enterprise
        try:
            queue.enqueue(deliver, outbox_id, job_id=job_id, unique=True, result_ttl=0, failure_ttl=86400)
        except DuplicateJobError:
            try:
                job = Job.fetch(scoped_id, connection=queue.connection)
            except NoSuchJobError:   # it finished in between
                job = None
            status = job.get_status(refresh=False) if job is not None else None
            if status in WAITING and _in_place(job, status, queue):
                continue
            if status == JobStatus.STARTED and _held(outbox_id):
                continue
            # The row is due again: a retry after backoff, or its worker died holding the job
            # (rq marks such a job abandoned only later; the row's lost lease says so now), or
            # a killed process left the job marked waiting in no queue, where no worker finds it.
            # Should a worker have just popped it, the lease still lets only one of the two send.
            if job is not None:
                try:
                    job.delete()
                except ValueError:
                    # rq's delete reads the job's executions first; one that ended meanwhile is gone
                    # and rq raises. Enqueuing below overwrites the job either way, and the row's
                    # lease still lets only one delivery send.
                    pass
            queue.enqueue(deliver, outbox_id, job_id=job_id, result_ttl=0, failure_ttl=86400)


def _in_place(job, status, queue) -> bool:
    """True when the job is where its status says it waits: its queue, or the deferred or scheduled registry."""
    from rq import Queue
    from rq.job import JobStatus
    home = Queue(job.origin, connection=queue.connection) if job.origin else queue
    if status == JobStatus.QUEUED:
        return home.get_job_position(job.id) is not None
    registry = home.deferred_job_registry if status == JobStatus.DEFERRED else home.scheduled_job_registry
    return job.id in registry


def _held(outbox_id: int) -> bool:
    """True while a worker's lease on the row runs."""
    return Outbox.select().where((Outbox.id == outbox_id) & (Outbox.state == "sending")
                                 & (Outbox.lease_until > utcnow())).exists()


def sweep() -> int:
    """Re-enqueue every due row; return how many."""
    ids = due_rows()
    enqueue(ids)
    return len(ids)
