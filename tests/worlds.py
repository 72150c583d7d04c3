"""The real path, on either platform: both sandboxes and the app on loopback, a real Redis and rq.

A world is what the end-to-end tests act in: the sample plant, the WeCom sandbox (encrypted XML
callbacks), the DingTalk sandbox (its Stream gateway, or HTTP callbacks), the app serving both,
and a drain() that runs the rq jobs. On DingTalk everyone of the sample plant holds the same
account id as on WeCom, so a test names people the same way on both.
"""
from __future__ import annotations

import base64
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import requests
from rq import Queue, SimpleWorker

import settings
from handlers.demo.demo import stream_connection, ws_connection
from handlers.demo.scripted import DingTalkPhone, MixedPhone, Phone, WsPhone
from jobs import delivery, lanes
from jobs.connection import QUEUES
from jobs.tenancy import EnterpriseJob, each
from models import Person

CORP, SECRET, TOKEN, AGENT = "wwsandbox01", "sandbox-secret", "sandbox-token", 1000002
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
APP_KEY, APP_SECRET, DING_CORP = "dingsandboxkey01", "dingtalk-sandbox-secret", "dingsandboxcorp"
EVENT_TOKEN, EVENT_AES_KEY = "dingtalk-event-token", base64.b64encode(bytes(range(33, 65))).decode().rstrip("=")
BOT_ID, BOT_SECRET = "aibsandbox01", "sandbox-bot-secret"
PLATFORMS = ("wecom", "dingtalk")
WS_WORLDS = ("wecom_ws", "mixed_ws")   # WeCom through the robot's long connection (mixed_ws: with DingTalk Stream)


@dataclass
class World:
    platform: str            # wecom, dingtalk, mixed, wecom_ws or mixed_ws: where people's cards go first
    phone: object            # Phone, DingTalkPhone or MixedPhone
    drain: Callable[[], None]
    wecom: str               # the WeCom sandbox's base URL
    dingtalk: str            # the DingTalk sandbox's base URL
    app: str
    stream: object = None    # the Stream connection (DingTalk, stream mode)
    ws: object = None        # the robot's long connection (WeCom, WECOM_MODE=ws)

    @property
    def sandbox(self) -> str:
        """The sandbox of the world's platform (WeCom's for mixed)."""
        return self.dingtalk if self.platform == "dingtalk" else self.wecom

    @property
    def gateway(self):
        """The WeCom sandbox's long-connection gateway (ws worlds)."""
        return self._gateway


def _redis_url(redis_conn) -> str:
    kwargs = redis_conn.connection_pool.connection_kwargs
    return (f"unix://{kwargs['path']}" if "path" in kwargs
            else f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}")


@contextmanager
def world(platform: str, *, plant, monkeypatch, redis_conn, dingtalk_mode: str = "stream"):
    """Start both sandboxes, the app and (stream mode) its DingTalk connection; yield a World."""
    from app import create_app
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    # Everyone gets a DingTalk account named as on WeCom (韩雪 keeps her DingTalk-only dt_hanxue).
    Person.update(dingtalk_userid=Person.wecom_userid).where(Person.wecom_userid.is_null(False)).execute()
    wecom_users = [p.wecom_userid for p in Person.select() if p.wecom_userid]
    ding_people = {p.dingtalk_userid: p.name for p in Person.select() if p.dingtalk_userid}
    wecom_app = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN,
                                     aes_key=AES_KEY, users=wecom_users, bot_id=BOT_ID, bot_secret=BOT_SECRET)
    gateway = wecom_app.extensions["wecom_sandbox"].gateway
    on_ws = platform in WS_WORLDS
    ding_app = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=DING_CORP,
                                       robot_code=APP_KEY, users=list(ding_people), names=ding_people)
    wecom_base, stop_wecom = run_in_thread(wecom_app)
    ding_base, stop_ding = run_dingtalk_sandbox(ding_app)   # its stop also ends the Stream gateway
    env = {"WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": SECRET,
           "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_API_BASE": wecom_base,
           "WECOM_OAUTH_BASE": wecom_base, "WECOM_JSSDK_URL": f"{wecom_base}/sandbox/jssdk.js",
           "DINGTALK_JSSDK_URL": f"{ding_base}/sandbox/jssdk.js",
           "DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET, "DINGTALK_CORP_ID": DING_CORP,
           "DINGTALK_API_BASE": ding_base, "DINGTALK_OAPI_BASE": ding_base, "DINGTALK_LOGIN_BASE": ding_base,
           "DINGTALK_MODE": dingtalk_mode, "DINGTALK_TOKEN": EVENT_TOKEN, "DINGTALK_AES_KEY": EVENT_AES_KEY,
           "DEFAULT_PLATFORM": "dingtalk" if platform == "dingtalk" else "wecom",
           "REDIS_URL": _redis_url(redis_conn),
           "QUIET_HOURS": "off"}   # reminders must not depend on the hour the test runs
    if on_ws:
        env |= {"WECOM_MODE": "ws", "WECOM_BOT_ID": BOT_ID, "WECOM_BOT_SECRET": BOT_SECRET,
                "WECOM_WS_URL": gateway.url}
    else:
        monkeypatch.delenv("WECOM_MODE", raising=False)
    if plant.__class__.__name__.startswith("Sqlite"):
        env["DATABASE_URL"] = f"sqlite:///{plant.database}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    app_base, stop_app = run_in_thread(app)
    monkeypatch.setenv("PUBLIC_BASE_URL", app_base)
    settings.configure()   # cards and QR codes name the address the app really listens on
    if dingtalk_mode == "http":
        from handlers.cli.dingtalk_setup import register_card_route
        register_card_route()   # as `python app.py serve` does at start in HTTP mode
    requests.post(f"{wecom_base}/sandbox/config", json={"callback_url": f"{app_base}/wecom/callback",
                                                         "mode": "ws" if on_ws else "callback"})
    requests.post(f"{ding_base}/sandbox/config", json={
        "mode": dingtalk_mode, "card_callback_url": f"{app_base}/dingtalk/card",
        "robot_callback_url": f"{app_base}/dingtalk/robot", "event_url": f"{app_base}/dingtalk/events",
        "event_token": EVENT_TOKEN, "event_aes_key": EVENT_AES_KEY})
    from jobs.connection import redis
    queues = [Queue(name, connection=redis()) for name in QUEUES]

    def drain():
        if on_ws:
            # The socket hands events to a thread: let every frame pushed so far be handled first.
            pushed = {f["body"]["msgid"] for f in gateway.snapshot()["pushed"] if f.get("body", {}).get("msgid")
                      and f["body"].get("msgtype") != "event" or f.get("body", {}).get("event", {}).get(
                          "eventtype") == "template_card_event"}
            assert ws.wait_handled(pushed), "the long connection did not handle every frame"
        # As the worker's own sweep does: the deployment's due rows, then each park enterprise's.
        each(lambda: delivery.enqueue(delivery.due_rows()))
        lanes.serve_alarms(burst=True)
        SimpleWorker(queues, connection=redis(), job_class=EnterpriseJob).work(burst=True)
        lanes.serve_alarms(burst=True)   # what the ordinary jobs raised (an offline alarm of a scan)

    stream = stream_connection(ding_base) if dingtalk_mode == "stream" else None
    ws = ws_connection(wecom_base) if on_ws else None
    wecom_phone = (WsPhone if on_ws else Phone)(wecom_base, app_base)
    ding_phone = DingTalkPhone(ding_base, app_base)
    mixed = MixedPhone(wecom_phone, ding_phone)
    phone = {"wecom": wecom_phone, "dingtalk": ding_phone, "mixed": mixed, "wecom_ws": wecom_phone,
             "mixed_ws": mixed}[platform]
    if platform == "mixed_ws":
        from handlers.demo.demo import _alternate_platforms
        _alternate_platforms(wecom="wecom_ws")
    try:
        found = World(platform, phone, drain, wecom_base, ding_base, app_base, stream, ws)
        found._gateway = gateway
        yield found
    finally:
        if ws is not None:
            ws.stop()
        gateway.stop()
        if stream is not None:
            stream.stop()
        stop_app()
        stop_wecom()
        stop_ding()
        settings.configure()
