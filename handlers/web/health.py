"""Health doors for the operators: /healthz (the process answers), /readyz (it can work), /metrics."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

import models
import settings
from jobs.connection import ALARM, QUEUES, queue, redis
from models import Alarm, Outbox
from monitoring import metrics, readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer while the process can serve a request; touches neither the database nor Redis."""
    return jsonify(status="ok")


def _depths() -> dict[str, int]:
    from jobs import alarm_queue
    return {name: alarm_queue.depth() if name == ALARM else queue(name).count for name in QUEUES}


def _tokens() -> dict:
    from bot import registry
    found = {}
    for platform in registry.configured():
        def token(platform=platform) -> str:
            adapter = registry.adapter_for(platform)
            # Each adapter reads its platform token through a client that caches it in Redis.
            client = getattr(adapter, "client", None) or getattr(adapter, "oapi", None)
            if client is None:   # the robot's long connection has no token: its socket check stands for it
                return "no token (socket)"
            return client.access_token
        found[platform] = token
    return found


def _sockets(conf: settings.Settings) -> list[str]:
    if conf.ready_sockets is not None:
        return sorted(conf.ready_sockets)
    found = ["dingtalk"] if conf.dingtalk is not None and conf.dingtalk.mode == "stream" else []
    return found + (["wecom"] if conf.wecom_ws is not None else [])


def _ws_status() -> dict:
    """What the wecom-ws process last wrote: its state and why its socket last went away."""
    from bot.wecom_ws import STATUS_KEY
    raw = redis().hgetall(STATUS_KEY)
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items() if k in (b"state", b"reason", b"last_close", "state", "reason", "last_close")}


def _leader() -> str | None:
    from jobs.scheduler import LeaderLock
    return LeaderLock(redis()).holder()


def _schema() -> tuple[int | None, int]:
    from models.schema import current_version, discover
    return current_version(), discover()[-1].version


@bp.get("/readyz")
def readyz():
    """Answer 200 when every part the product needs is there, else 503 naming what is not."""
    report = readiness.check(database=models.database, redis=redis, tokens=_tokens(),
                             sockets=_sockets(settings.current()), leader=_leader, depths=_depths,
                             schema=_schema)
    if settings.current().wecom_ws is not None:
        try:
            report.figures["wecom_ws"] = _ws_status()
        except Exception as exc:   # noqa: BLE001 - Redis being down is named by the redis check already
            report.figures["wecom_ws"] = {"error": type(exc).__name__}
    return jsonify(report.as_json()), 200 if report.ready else 503


def _alarms_open() -> int:
    return Alarm.select().where(Alarm.acknowledged_at.is_null() & Alarm.cleared_at.is_null()).count()


def _outbox_failed() -> int:
    return Outbox.select().where(Outbox.state == "failed").count()


@bp.get("/metrics")
def scrape():
    """Expose the Prometheus metrics of every process of this machine, and the live figures."""
    live = metrics.LiveCollector(queue_depths=_depths, alarms_open=_alarms_open, outbox_failed=_outbox_failed)
    return Response(metrics.exposition(live), mimetype=None, content_type=metrics.CONTENT_TYPE)
