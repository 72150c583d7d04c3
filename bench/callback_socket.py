"""The WeCom long connection's share of bench/callback.py: clicks as frames on the robot's socket.

What "ack" means here. WeCom's long connection has no acknowledgement of a callback frame: a click
is done, for the person, once the app has applied it (and, within 5 s, answered it with
aibot_respond_update_msg, which a worker sends). So a click's time is from the sandbox gateway
writing the template_card_event frame to the moment the connection's handler returned, its
transaction committed: read, parse, de-duplicate, sign the step, write the outbox, enqueue.

The floor is the least a correct socket consumer must do: the same gateway, the same connection
code (reading, JSON, parse into an Event, a thread per frame), and a handler that commits ONE row
(the frame's msgid and body) in one transaction, i.e. "store the raw event; process it later".
Gateway, connection and clients share one process here (the socket is a loopback websocket), so
both endpoints pay the same GIL; the clients are closed-loop threads, each pushing its next frame
once the previous one was handled.
"""
from __future__ import annotations

import json
import secrets
import time

BOT_ID, BOT_SECRET = "aibbench01", "bench-bot-secret"


def frames(made, user: str) -> list[dict]:
    """One real 确认 click frame per (permit no, task id, round), as the gateway would push it."""
    from cards import actions
    out = []
    for no, task, round_ in made:
        out.append({"cmd": "aibot_event_callback",
                    "headers": {"req_id": f"aibot_event_callback_{int(time.time() * 1000)}_{secrets.token_hex(4)}"},
                    "body": {"msgid": secrets.token_hex(16), "create_time": int(time.time()), "aibotid": BOT_ID,
                             "chattype": "single", "chatid": user, "from": {"userid": user}, "msgtype": "event",
                             "event": {"eventtype": "template_card_event", "template_card_event": {
                                 "card_type": "button_interaction", "event_key": actions.key("confirm", no, "plan",
                                                                                             round_),
                                 "task_id": task}}}})
    return out


def _drive(gateway, connection, jobs: list[dict], concurrency: int) -> dict:
    """Push every frame from concurrency threads, each waiting for its last to be handled; return latencies."""
    from support import closed_loop

    def send(i: int) -> int | None:
        gateway.raw(jobs[i])
        # A frame not handled in time counts as a failed click, as a non-200 answer does over HTTP.
        return 200 if connection.wait_handled({jobs[i]["body"]["msgid"]}, timeout=20.0) else None

    return closed_loop(len(jobs), concurrency, send)


def _connection(gateway, on_event):
    from bot.wecom_ws import WsConnection
    from jobs.connection import redis
    from jobs.scheduler import LeaderLock
    connection = WsConnection(bot_id=BOT_ID, secret=BOT_SECRET, url=gateway.url, redis=redis(),
                              lock=LeaderLock(redis(), key=f"ws:wecom:leader:{BOT_ID}", ttl=20.0),
                              on_event=on_event, backoff=(0.05, 0.5))
    connection.start()
    deadline = time.monotonic() + 10
    while gateway.snapshot()["connected"] is False:
        if time.monotonic() > deadline:
            raise RuntimeError("the long connection did not reach the sandbox's gateway")
        time.sleep(0.02)
    return connection


def gateway(corp: dict):
    """Start the WeCom sandbox's long-connection gateway for the bench's robot; return it."""
    from sandbox.wecom import create_wecom_sandbox
    sandbox = create_wecom_sandbox(**corp, bot_id=BOT_ID, bot_secret=BOT_SECRET)
    return sandbox.extensions["wecom_sandbox"].gateway


def measure(gateway, on_event, jobs_warm: list[dict], jobs: list[dict], concurrency: int) -> dict:
    """Hold the robot's connection with on_event as its handler, push the warm-up and the measured frames."""
    connection = _connection(gateway, on_event)
    try:
        if jobs_warm:
            _drive(gateway, connection, jobs_warm, concurrency)
        return _drive(gateway, connection, jobs, concurrency)
    finally:
        connection.stop()
        deadline = time.monotonic() + 10
        while gateway.snapshot()["connected"] and time.monotonic() < deadline:
            time.sleep(0.02)


def floor_handler(floor_model):
    """Commit one row per frame: the socket's "store the raw event; process it later"."""
    import models
    from models import transaction

    def on_event(event) -> str:
        with models.database.connection_context():
            with transaction():
                floor_model.insert(received=event.msg_id, plain=json.dumps(event.raw, ensure_ascii=False)).execute()
        return "stored"
    return on_event
