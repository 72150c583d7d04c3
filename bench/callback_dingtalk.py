"""DingTalk's share of bench/callback.py: card clicks through the HTTP card callback and through Stream.

--platform dingtalk: each click is the card callback DingTalk POSTs to /dingtalk/card in HTTP mode, signed
as the sandbox (and DingTalk) signs it: headers x-ddpaas-signature-timestamp (ms, never the same twice)
and x-ddpaas-signature = base64(HmacSHA256(apiSecret, timestamp)) with the apiSecret the app registers.
Ours verifies the signature, spends the pair in Redis, checks the corp, parses the click and dispatches
it (de-duplicate, sign the step in one transaction, outbox, enqueue) before answering, as the WeCom
callback does. The floor is a route of the same app that checks the same signature and the window with
the same function and commits ONE row.

--platform dingtalk-stream: each click is a CALLBACK frame the DingTalk sandbox's Stream gateway pushes to
bot/dingtalk_stream.py over a loopback websocket. DingTalk never sends a CALLBACK frame again, so the ACK
follows the event being kept, not handled: ours is handle_stream_event (parse, insert into the inbox in
one transaction, enqueue its handling on rq), and a click's time runs from the gateway publishing the
frame to the gateway holding its ACK. The floor is the same gateway and connection code with a handler
that commits one row, then ACKs. The inbox rows are handled after the measurement (the rq job's own
function, in this process), so the check still finds one signature per click; their handling is not in
the figure, as it is not in what DingTalk waits for.

Both doors keep their clients in this process: the HTTP door's clients are the same process-separated
requests threads as WeCom's (bench/callback.py); the Stream door's are closed-loop threads beside the
gateway, each publishing its next frame once the previous one was ACKed.
"""
from __future__ import annotations

import json
import time

APP_KEY, APP_SECRET, DING_CORP = "dingbenchkey01", "dingtalk-bench-secret", "dingbenchcorp"
ROUTE_KEY = "permit"


def settings_env(api_base: str, mode: str) -> dict:
    """The DingTalk settings of the bench's app (mode http or stream), with api_base for every call."""
    return {"DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET, "DINGTALK_CORP_ID": DING_CORP,
            "DINGTALK_MODE": mode, "DINGTALK_API_BASE": api_base, "DINGTALK_OAPI_BASE": api_base}


def click_data(made, user: str) -> list[dict]:
    """One real 确认 click per (permit no, outTrackId, round): the data DingTalk sends for a card callback."""
    from cards import actions
    out = []
    for no, track, round_ in made:
        content = {"cardPrivateData": {"actionIds": [actions.key("confirm", no, "plan", round_)],
                                       "params": {"action": actions.key("confirm", no, "plan", round_)}}}
        out.append({"outTrackId": track, "corpId": DING_CORP, "userId": user, "type": "actionCallback",
                    "spaceType": "IM_ROBOT", "spaceId": user, "userIdType": 1,
                    "content": json.dumps(content, ensure_ascii=False), "extension": "{}"})
    return out


# -- HTTP: /dingtalk/card ----------------------------------------------------------------------------

_last_stamp = 0


def sign_http(clicks: list[dict]) -> list[tuple[dict, bytes, dict]]:
    """Sign each click as DingTalk signs a card callback; each gets a timestamp of its own, as the sandbox's."""
    global _last_stamp
    from bot.dingtalk_sign import card_api_secret, card_sign
    secret, jobs = card_api_secret(APP_SECRET), []
    for data in clicks:
        # The app spends each pair once: two callbacks in one millisecond must not share a timestamp.
        _last_stamp = max(int(time.time() * 1000), _last_stamp + 1)
        stamp = str(_last_stamp)
        headers = {"Content-Type": "application/json", "x-ddpaas-signature-timestamp": stamp,
                   "x-ddpaas-signature": card_sign(stamp, secret)}
        jobs.append(({}, json.dumps(data, ensure_ascii=False).encode(), headers))
    return jobs


def http_floor_blueprint(floor_model):
    """The floor: the same signature check and window, one row committed, 200. Mounted only by the bench."""
    import hmac
    from flask import Blueprint, Response, request
    from bot.dingtalk_sign import card_api_secret, card_sign
    from models import transaction
    secret, bp = card_api_secret(APP_SECRET), Blueprint("bench_dingtalk_floor", __name__)

    @bp.post("/bench/floor")
    def floor():
        body = request.get_data(cache=False)
        stamp = request.headers.get("x-ddpaas-signature-timestamp", "")
        sign = request.headers.get("x-ddpaas-signature", "")
        if not (stamp.isdigit() and hmac.compare_digest(card_sign(stamp, secret).encode(), sign.encode())):
            return Response("bad signature", status=403)
        if abs(time.time() - int(stamp) / 1000) > 300:
            return Response("stale timestamp", status=403)
        try:
            json.loads(body)
        except ValueError:
            return Response("body is not JSON", status=400)
        with transaction():
            floor_model.insert(received=f"{stamp}:{sign}", plain=body.decode()).execute()
        return Response("{}", status=200, mimetype="application/json")

    return bp


# -- Stream: the gateway and bot/dingtalk_stream.py ----------------------------------------------------

def sandbox():
    """Start the DingTalk sandbox (its Stream gateway opens on the first connection); return (base, stop, state)."""
    from sandbox.dingtalk import create_dingtalk_sandbox, dingtalk_sandbox_state, run_dingtalk_sandbox
    app = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=DING_CORP, robot_code=APP_KEY)
    base, stop = run_dingtalk_sandbox(app)
    return base, stop, dingtalk_sandbox_state(app)


def _connection(base: str, state, on_event):
    from bot.dingtalk_stream import StreamConnection
    from bot.registry import dingtalk_adapter
    connection = StreamConnection(dingtalk_adapter(), on_event=on_event, api_base=base, backoff=(0.05, 0.5))
    connection.start()
    deadline = time.monotonic() + 10
    while state.gateway is None or not state.gateway.snapshot()["connections"]:
        if time.monotonic() > deadline:
            connection.stop()
            raise RuntimeError("the Stream connection did not reach the sandbox's gateway")
        time.sleep(0.02)
    return connection


def _drive(gateway, clicks: list[dict], concurrency: int) -> dict:
    """Publish every click from concurrency threads, each waiting for its last to be ACKed; return latencies."""
    from support import closed_loop
    from sandbox.dingtalk import CARD_TOPIC

    def send(i: int) -> int | None:
        frame = gateway.wait(gateway.publish(CARD_TOPIC, clicks[i]), timeout=20.0)
        # Lost (a 5xx ACK, none in time) counts as a failed click, as a non-200 answer does over HTTP.
        return frame["code"] if frame["status"] == "delivered" else None

    return closed_loop(len(clicks), concurrency, send)


def measure(base: str, state, on_event, warm: list[dict], clicks: list[dict], concurrency: int) -> dict:
    """Hold the app's Stream connection with on_event as its handler; push the warm-up, then the measured clicks."""
    connection = _connection(base, state, on_event)
    try:
        if warm:
            _drive(state.gateway, warm, concurrency)
        return _drive(state.gateway, clicks, concurrency)
    finally:
        connection.stop()
        deadline = time.monotonic() + 10
        while state.gateway.snapshot()["connections"] and time.monotonic() < deadline:
            time.sleep(0.02)


def stream_floor_handler(floor_model):
    """Commit one row per frame, then let the connection ACK: Stream's "store the raw event; process it later"."""
    import models
    from models import transaction

    def on_event(event) -> dict:
        with models.database.connection_context():
            with transaction():
                floor_model.insert(received=event.msg_id, plain=json.dumps(event.raw, ensure_ascii=False)).execute()
        return {}
    return on_event


def handle_inbox() -> int:
    """Handle every kept click as the inbox's rq job would; return how many rows were handled."""
    import models
    from handlers.chat.inbox import handle_kept
    from models import InboxEvent
    with models.database.connection_context():
        ids = [row.id for row in InboxEvent.select(InboxEvent.id).where(InboxEvent.handled_at.is_null())
               .order_by(InboxEvent.id)]
    for row_id in ids:
        with models.database.connection_context():
            handle_kept(row_id)
    return len(ids)
