"""Webhooks out: each subscription reads the audit chain from its cursor and posts the events it asked for.

Deliveries are signed like the sensor webhook (X-Timestamp, X-Signature = HMAC-SHA256 over
"timestamp.body"), in the chain's order, at least once: a target must dedupe by the event's `id`
(the chain's seq). A failing target backs off and holds only its own subscription; no permit waits.
"""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta, timezone

import requests

import settings
from models import AuditEvent, utcnow
from models.api import Webhook
from models.db import transaction
from sensors.intake import sign
from workflow import audit

from .connection import queue, redis

log = logging.getLogger(__name__)

# The event types an integration may subscribe to, and the audit actions that carry them.
# permit.state_changed is derived: any permit event whose snapshot's state differs from the one before.
ACTIONS = {"alarm": "alarm.raised", "alarm_clear": "alarm.cleared", "alarm_ack": "alarm.acknowledged",
           "emergency": "emergency.raised", "emergency_close": "emergency.closed",
           "hazard_found": "finding.raised", "hazard_closed": "finding.closed"}
EVENTS = ("permit.state_changed", *ACTIONS.values())
BATCH = 100
MAX_BACKOFF = timedelta(hours=1)


class WebhookError(Exception):
    """A subscription command that cannot be carried out; the message says why, in Chinese."""


def subscribe(name: str, url: str, events: list[str], *, now: datetime | None = None) -> str:
    """Subscribe url to events from now on; return the signing secret, shown only this once."""
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise WebhookError(f"未知事件：{'、'.join(unknown) or '（未填写）'}；可选：{'、'.join(EVENTS)}")
    if not url.startswith(("http://", "https://")):
        raise WebhookError("地址须以 http:// 或 https:// 开头")
    now = now or utcnow()
    secret = secrets.token_hex(32)
    with transaction():
        if Webhook.select().where(Webhook.name == name).exists():
            raise WebhookError(f"订阅“{name}”已存在")
        added = audit.append(permit_no=None, actor="cli", action="webhook_added",
                             data={"name": name, "url": url, "events": list(events)}, at=now)
        # Events from now on: the chain before the subscription is the exports' business.
        Webhook.create(name=name, url=url, secret=secret, events=list(events), created_at=now, cursor=added.seq)
    return secret


def remove(name: str, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    with transaction():
        hook = Webhook.get_or_none(Webhook.name == name, Webhook.removed_at.is_null())
        if hook is None:
            raise WebhookError(f"没有名为“{name}”的订阅")
        hook.removed_at = now
        hook.save()
        audit.append(permit_no=None, actor="cli", action="webhook_removed", data={"name": name}, at=now)


def describe(event: AuditEvent) -> dict | None:
    """Return the webhook body an audit event stands for, or None when it stands for none."""
    data = event.data or {}
    body = {"id": event.seq, "permit_no": event.permit_no, "actor": event.actor,
            "at": event.created_at.replace(tzinfo=timezone.utc).astimezone(settings.current().plant_tz).isoformat()}
    if event.action in ACTIONS:
        return {**body, "type": ACTIONS[event.action],
                "data": {k: v for k, v in data.items() if k != "recipients"}}   # person ids are internal
    state = data.get("snapshot", {}).get("state") if event.permit_no else None
    if state is None:
        return None
    previous = _previous_state(event)
    if state == previous:
        return None
    return {**body, "type": "permit.state_changed", "state": state, "previous_state": previous,
            "command": event.action}


def _previous_state(event: AuditEvent) -> str | None:
    earlier = (AuditEvent.select().where(AuditEvent.permit_no == event.permit_no, AuditEvent.seq < event.seq)
               .order_by(AuditEvent.seq.desc()))
    for before in earlier:
        state = (before.data or {}).get("snapshot", {}).get("state")
        if state is not None:
            return state
    return None


def due(now: datetime) -> list[int]:
    head = AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).first()
    if head is None:
        return []
    return [h.id for h in Webhook.select(Webhook.id).where(
        Webhook.removed_at.is_null(), Webhook.cursor < head.seq,
        Webhook.next_attempt_at.is_null() | (Webhook.next_attempt_at <= now))]


def enqueue_due(now: datetime) -> int:
    """Queue a delivery for each subscription with events waiting; the scan calls it every tick."""
    ids = due(now)
    for hook_id in ids:
        # HTTP to someone else's server has no place in the scan: it runs as a job of its own.
        queue("default").enqueue(deliver, hook_id, job_id=f"webhook-{hook_id}", result_ttl=0)
    return len(ids)


def deliver(hook_id: int, now_iso: str | None = None) -> int:
    """Post the subscription's waiting events in order; stop at the first failure. Return how many went."""
    lock = redis().lock(f"webhook:{hook_id}", timeout=300, blocking=False)
    if not lock.acquire():
        return 0   # another worker is delivering this subscription: order needs one at a time
    try:
        return _deliver(Webhook.get_by_id(hook_id), datetime.fromisoformat(now_iso) if now_iso else None)
    finally:
        lock.release()


def _deliver(hook: Webhook, now: datetime | None) -> int:
    sent = 0
    events = list(AuditEvent.select().where(AuditEvent.seq > hook.cursor).order_by(AuditEvent.seq).limit(BATCH))
    for event in events:
        body = describe(event)
        if body is not None and body["type"] in hook.events:
            status, error = _post(hook, body)
            at = now or utcnow()
            if error:
                hook.attempts += 1
                wait = min(timedelta(seconds=10 * 2 ** min(hook.attempts - 1, 12)), MAX_BACKOFF)
                Webhook.update(attempts=hook.attempts, next_attempt_at=at + wait, last_status=status,
                               last_error=error[:300], last_attempt_at=at).where(Webhook.id == hook.id).execute()
                log.warning("webhook %s: event %s not delivered (%s); next try in %s", hook.name, event.seq,
                            error, wait)
                return sent
            sent += 1
            Webhook.update(attempts=0, next_attempt_at=None, last_status=status, last_error="",
                           last_attempt_at=at, delivered=Webhook.delivered + 1).where(Webhook.id == hook.id).execute()
        Webhook.update(cursor=event.seq).where(Webhook.id == hook.id).execute()
    return sent


def _post(hook: Webhook, body: dict) -> tuple[int | None, str]:
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    stamp = str(int(utcnow().replace(tzinfo=timezone.utc).timestamp()))
    headers = {"Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": sign(hook.secret, stamp, raw),
               "X-Event-Id": str(body["id"]), "X-Event-Type": body["type"]}
    try:
        answer = requests.post(hook.url, data=raw, headers=headers, timeout=settings.current().webhook_timeout_seconds,
                               allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"{exc.__class__.__name__}: 目标无响应"
    if 200 <= answer.status_code < 300:
        return answer.status_code, ""
    return answer.status_code, f"目标返回 HTTP {answer.status_code}"
