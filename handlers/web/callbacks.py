"""The platforms' callback URLs: short translators from HTTP to neutral events and back.

On a park deployment the callback's corp id (WeCom's ToUserName, DingTalk's corpId or chatbotCorpId)
says whose it is: the deployment's own app, or a park enterprise's, whose database and apps the rest of
the request then runs with. A corp nobody here has is refused before anything is read or stored.
"""
from __future__ import annotations

import json
import logging
import re
import time
from functools import wraps

from flask import Blueprint, Response, abort, jsonify, request

import models

from bot.base import CallbackRejected, Event, sender_for_log
from bot.registry import dingtalk_adapter, wecom_adapter
from bot.wecom_callback import MAX_BODY
from jobs.connection import redis
from jobs.delivery import enqueue
from monitoring.metrics import observe_callback

from handlers.chat.dispatch import FAILED, dispatch
from handlers.chat.inbox import keep

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


def _timed(platform: str):
    """Observe how long the wrapped callback takes to answer, refused or not."""
    def wrap(view):
        @wraps(view)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return view(*args, **kwargs)
            finally:
                observe_callback(platform, time.perf_counter() - start)
        return timed
    return wrap


def _as_owner(platform: str, peek):
    """Run the view as the enterprise whose app the callback's corp id names; refuse a corp nobody here has."""
    def wrap(view):
        @wraps(view)
        def owned(*args, **kwargs):
            import settings
            from park import enterprises
            corp = peek()
            own = getattr(settings.home(), platform)
            if corp is None or (own is not None and own.corp_id == corp):
                return view(*args, **kwargs)   # the deployment's own, or for its adapter to refuse
            owner = enterprises.corp_owner(platform, corp)
            if not owner:
                log.warning("%s callback refused: corp %r is no enterprise's here", platform, corp[:64])
                if platform == "dingtalk":   # refused as the adapter refuses: an error object
                    return jsonify(error="the corp is no enterprise's here", code="unknown_corp"), 403
                return Response("unknown corp", status=403)
            # The deployment's connection, opened for every request, is not this request's database.
            if not models.database.is_closed():
                models.database.close()
            with enterprises.entered(owner):
                return view(*args, **kwargs)
        return owned
    return wrap


_TO_USER = re.compile(rb"<ToUserName>\s*<!\[CDATA\[([^\]]{1,128})\]\]>\s*</ToUserName>")


def _wecom_corp() -> str | None:
    # The envelope names the corp in clear beside the sealed message; the adapter then checks it again
    # against the corp sealed inside, with the owner's keys.
    found = _TO_USER.search(request.get_data(cache=True)[:4096])
    return found.group(1).decode(errors="replace") if found else None


def _dingtalk_corp() -> str | None:
    try:
        data = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    corp = data.get("corpId") or data.get("chatbotCorpId")
    return corp if isinstance(corp, str) and corp else None


def _wecom():
    adapter = wecom_adapter()
    if adapter is None:
        abort(Response("WeCom is not configured", status=404))
    return adapter


@bp.get("/wecom/callback")
def wecom_verify():
    """Answer WeCom's check of the callback URL, for the deployment's app or a park enterprise's.

    The check names no corp: the app whose token its signature was made with is the one it is for.
    """
    from park import enterprises
    refusal = None
    try:
        if wecom_adapter() is not None:
            return Response(wecom_adapter().verify_url(request.args), mimetype="text/plain")
    except CallbackRejected as exc:
        refusal = exc
    owners = [e.code for e in enterprises.listing() if e.wecom]
    for code in owners:
        with enterprises.entered(code):
            try:
                return Response(_wecom().verify_url(request.args), mimetype="text/plain")
            except CallbackRejected as exc:
                refusal = refusal or exc
    if refusal is None:
        abort(Response("WeCom is not configured", status=404))
    return Response(refusal.reason, status=refusal.status)


@bp.post("/wecom/callback")
@_timed("wecom")
def wecom_event():
    if (request.content_length or 0) > MAX_BODY:
        # Refused from the header, before reading: a large body must not be buffered to be measured.
        return Response(f"body of {request.content_length} bytes exceeds {MAX_BODY}", status=413)
    return _wecom_event()


@_as_owner("wecom", _wecom_corp)
def _wecom_event():
    adapter = _wecom()
    try:
        event = adapter.parse_callback(request.args, request.get_data(cache=True)[:MAX_BODY + 1])
    except CallbackRejected as exc:
        log.warning("wecom callback refused (%s): %s", exc.status, exc.reason)
        return Response(exc.reason, status=exc.status)
    result = dispatch(event, redis=redis(), enqueue=enqueue)
    log.info("wecom %s from %s: %s", event.kind, sender_for_log(event, result), result)
    return Response("", status=200)


# -- DingTalk ------------------------------------------------------------------------------------------
# Stream mode needs no route: bot/dingtalk_stream.py hands its events to handle_stream_event. These
# are for plants that prefer HTTP callbacks (DINGTALK_MODE=http) and for the classic event subscription.

def _dingtalk():
    adapter = dingtalk_adapter()
    if adapter is None:
        abort(Response("DingTalk is not configured", status=404))
    return adapter


@_as_owner("dingtalk", _dingtalk_corp)
def _dingtalk_callback(topic: str):
    adapter = _dingtalk()
    try:
        event = adapter.http_callback(request.headers, request.get_data(cache=True), topic=topic)
    except CallbackRejected as exc:
        log.warning("dingtalk %s callback refused (%s): %s", topic, exc.status, exc.reason)
        return jsonify(error=exc.reason, code=getattr(exc, "code", "rejected")), exc.status
    try:
        result = dispatch(event, redis=redis(), enqueue=enqueue)
    except Exception:
        adapter.forget_message(event)   # nothing was committed: DingTalk's retry must get through
        raise
    if result == FAILED:
        adapter.forget_message(event)
    log.info("dingtalk %s from %s: %s", event.kind, sender_for_log(event, result), result)
    return jsonify({})


@bp.record_once
def _warn_about_http_mode(state) -> None:
    conf = state.app.config.get("SETTINGS")
    if conf is not None and conf.dingtalk is not None and conf.dingtalk.mode == "http":
        log.warning("DINGTALK_MODE=http: DingTalk signs only the timestamp, not the body, so a captured "
                    "sign can be spent once by someone else within %s s; Stream mode is the recommended "
                    "mode (docs/dingtalk.md, Security of the HTTP mode)", conf.dingtalk.callback_window)


@bp.post("/dingtalk/card")
@_timed("dingtalk")
def dingtalk_card():
    return _dingtalk_callback("card")


@bp.post("/dingtalk/robot")
@_timed("dingtalk")
def dingtalk_robot():
    return _dingtalk_callback("robot")


@bp.post("/dingtalk/events")
def dingtalk_events():
    """The classic encrypted event subscription: answered with the encrypted "success" it demands."""
    try:
        event, reply = _dingtalk().open_event(request.args, request.get_data(cache=False))
    except CallbackRejected as exc:
        log.warning("dingtalk event refused (%s): %s", exc.status, exc.reason)
        return jsonify(error=exc.reason), exc.status
    # Only check_url is expected: the permit's own traffic comes as card callbacks and robot messages.
    log.info("dingtalk event %s acknowledged", event.get("EventType"))
    return jsonify(reply)


@_timed("dingtalk")
def handle_stream_event(event: Event) -> dict:
    """Keep one event from the Stream connection in the inbox; return the ACK's response (no card change).

    Called in a thread of the Stream connection, outside any request. DingTalk never sends a CALLBACK
    frame again, so the ACK must follow the event being stored, not handled: the handling runs from the
    inbox (handlers/chat/inbox.py). Raises when the event cannot be stored, which makes the ACK a 500.
    """
    result = keep(event, topic="dingtalk-stream")
    # Not named here: whether a message is an anonymous report is known only once it is handled, and
    # the handling's own log line names the sender, or (匿名).
    log.info("dingtalk %s frame %s: %s", event.kind, event.msg_id, result)
    return {}
