"""The platforms' callback URLs: short translators from HTTP to neutral events and back."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from bot.base import CallbackRejected
from bot.registry import wecom_adapter as _wecom

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


@bp.get("/wecom/callback")
def wecom_verify():
    adapter = _wecom()
    if adapter is None:
        return Response("WeCom is not configured", status=404)
    try:
        return Response(adapter.verify_url(request.args), mimetype="text/plain")
    except CallbackRejected as exc:
        return Response(exc.reason, status=exc.status)


@bp.post("/wecom/callback")
def wecom_event():
    adapter = _wecom()
    if adapter is None:
        return Response("WeCom is not configured", status=404)
    try:
        event = adapter.parse_callback(request.args, request.get_data(cache=False))
    except CallbackRejected as exc:
        log.warning("wecom callback refused (%s): %s", exc.status, exc.reason)
        return Response(exc.reason, status=exc.status)
    from jobs.connection import redis
    from jobs.delivery import enqueue
    from .dispatch import dispatch
    result = dispatch(event, redis=redis(), enqueue=current_app.config.get("ENQUEUE", enqueue))
    log.info("wecom %s from %s: %s", event.kind, event.user_id, result)
    return Response("", status=200)
