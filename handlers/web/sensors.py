"""The detectors' webhook, POST /sensors/readings, and the page an alarm card opens."""
from __future__ import annotations

import logging
from html import escape

from flask import Blueprint, Response, jsonify, request

import settings
from jobs.delivery import enqueue
from models import Alarm
from sensors import admission, alarms, gateway, intake
from workflow.clock import local

log = logging.getLogger(__name__)
bp = Blueprint("sensors", __name__)
MAX_ID = 2 ** 63 - 1


@bp.post("/sensors/readings")
def readings():
    return _receive(intake.MAX_BODY, lambda body: [intake.verify(body, request.headers)[:2]])


@bp.post("/sensors/gateway")
def gateway_batch():
    """A gas-detection controller's batch: many detectors' readings in one signed post."""
    return _receive(gateway.MAX_BODY, lambda body: gateway.verify(body, request.headers))


def _receive(limit: int, verify):
    if (request.content_length or 0) > limit:
        # Refused before reading: a detector gateway gone wrong must not fill the worker's memory.
        return _refused(intake.Refused(413, "body_too_large", f"请求体超过 {limit // 1024} KB"))
    body = request.stream.read(limit + 1)
    try:
        result = admission.receive(lambda: verify(body))
    except intake.Refused as exc:
        return _refused(exc)
    except admission.Overloaded as exc:
        log.warning("sensor post shed (503): %s", exc.message)
        return jsonify(exc.as_json()), 503, {"Retry-After": str(exc.retry_after)}
    # Delivery is the worker's: alarm cards fan out as one job per person, and the sweep brings
    # back any row whose job was lost with Redis.
    try:
        enqueue(alarms.outbox_rows(result.alarms))
    except Exception as exc:  # noqa: BLE001 - stored and committed; the worker's sweep delivers
        log.error("alarm cards of alarms %s not enqueued (%s); the sweep will send them", result.alarms, exc)
    return jsonify(result.as_json())


def _refused(exc: intake.Refused):
    log.warning("sensor post refused (%s %s): %s", exc.status, exc.code, exc.message)
    return jsonify(exc.as_json()), exc.status


PAGE = """<!doctype html><html lang="zh"><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<body style="font-family:sans-serif;max-width:30em;margin:2em auto;padding:0 1em">
<h2 style="color:#c62828">{title}</h2><p>{text}</p><p>{facts}</p></body></html>"""


@bp.get("/alarms/<int:alarm_id>")
def alarm_page(alarm_id: int):
    """What an alarm card opens when no permit (and so no board) is attached to it."""
    # An id past the databases' 64-bit integers cannot name an alarm, and would not bind as a parameter.
    alarm = Alarm.get_or_none(Alarm.id == alarm_id) if 0 < alarm_id <= MAX_ID else None
    if alarm is None:
        return Response("not found", status=404)
    tz = settings.current().plant_tz
    state = (f"已于 {local(alarm.acknowledged_at, tz):%m-%d %H:%M} 确认" if alarm.acknowledged_at
             else "尚无人确认")
    cleared = f"，已于 {local(alarm.cleared_at, tz):%H:%M} 解除" if alarm.cleared_at else ""
    facts = f"{alarm.device or '人工检测'} · {alarm.area} · {local(alarm.reading_at, tz):%m-%d %H:%M:%S} · {state}{cleared}"
    return Response(PAGE.format(title=escape(f"{alarm.level}报警"), text=escape(alarm.text),
                                facts=escape(facts)), mimetype="text/html")
