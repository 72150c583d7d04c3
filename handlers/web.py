"""The platforms' callback URLs: short translators from HTTP to neutral events and back."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request

from bot.base import CallbackRejected
from bot.registry import wecom_adapter
from jobs.connection import redis
from jobs.delivery import enqueue

from .dispatch import dispatch

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


def _wecom():
    adapter = wecom_adapter()
    if adapter is None:
        abort(Response("WeCom is not configured", status=404))
    return adapter


@bp.get("/wecom/callback")
def wecom_verify():
    try:
        return Response(_wecom().verify_url(request.args), mimetype="text/plain")
    except CallbackRejected as exc:
        return Response(exc.reason, status=exc.status)


@bp.post("/wecom/callback")
def wecom_event():
    try:
        event = _wecom().parse_callback(request.args, request.get_data(cache=False))
    except CallbackRejected as exc:
        log.warning("wecom callback refused (%s): %s", exc.status, exc.reason)
        return Response(exc.reason, status=exc.status)
    result = dispatch(event, redis=redis(), enqueue=enqueue)
    log.info("wecom %s from %s: %s", event.kind, event.user_id, result)
    return Response("", status=200)
