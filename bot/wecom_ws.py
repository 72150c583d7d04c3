"""WeCom's smart-robot long connection: one websocket per robot, held by `python app.py wecom-ws`.

The wire protocol follows wecom-aibot-sdk (its command names and req_id format are used); its
connection loop is not: it gives up after ten reconnects, backs off without jitter, stops for good
after a disconnected_event, and knows nothing of a second process or of the workers that must send
through this socket. So this module runs its own loop: a Redis leader lock per robot (a second
process waits and says so), exponential backoff with jitter, a ping every 30 s, a watchdog that
closes a socket silent for 2.5 pings, the bridge that sends the workers' frames (bot/wecom_ws_bridge.py),
and a heartbeat key with the time of the last frame.
"""
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import threading
import time
from typing import Callable

import websockets
from wecom_aibot_sdk.types import WsCmd
from wecom_aibot_sdk.utils import generate_req_id

from . import wecom_ws_bridge as bridge
from .base import Event, sender_for_log

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "ws:wecom:heartbeat"   # the last frame's time (unix seconds), for the health check
HEARTBEAT_TTL = 90   # pongs come every ping interval (30 s); a key gone means no socket for a while
STATUS_KEY = "ws:wecom:status"         # hash: state, bot_id, reason, at, last_close
HANDLED_TTL = 600   # seconds a handled msgid stays marked in Redis, for whoever waits on another process
PLATFORM = "wecom_ws"
HEALTHY_AFTER = 60.0
OnEvent = Callable[[Event], str]


def handled_key(msgid: str) -> str:
    return f"ws:wecom:handled:{msgid}"


class Refused(Exception):
    """WeCom answered the subscription with an error (a wrong secret, a robot not in long-connection mode)."""


def parse(frame: dict) -> Event | None:
    """Turn an aibot_msg_callback or aibot_event_callback frame into an Event; None for what we do not handle."""
    body = frame.get("body") if isinstance(frame.get("body"), dict) else {}
    req_id = str((frame.get("headers") or {}).get("req_id") or "")
    sender = body.get("from") if isinstance(body.get("from"), dict) else {}
    user, msgid = str(sender.get("userid") or ""), str(body.get("msgid") or "")
    if not user or not msgid:
        return None
    created = int(body.get("create_time") or time.time())
    base = {"platform": PLATFORM, "user_id": user, "created_at": created, "msg_id": msgid, "raw": body}
    msgtype = body.get("msgtype")
    if frame.get("cmd") == WsCmd.EVENT_CALLBACK:
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("eventtype") != "template_card_event":
            return Event(kind="unknown", **base)
        click = event.get("template_card_event") if isinstance(event.get("template_card_event"), dict) else {}
        return Event(kind="click", key=str(click.get("event_key") or ""), task_id=str(click.get("task_id") or ""),
                     response_code=req_id, selected=_selected(click), **base)
    if msgtype == "text":
        return Event(kind="text", text=str((body.get("text") or {}).get("content") or ""), **base)
    image = _image(body)
    if image is not None:
        from .wecom_ws_channel import media_ref
        return Event(kind="image", media_id=media_ref(image.get("url", ""), image.get("aeskey", "")), **base)
    return Event(kind="unknown", **base)


def _selected(click: dict) -> tuple[str, ...]:
    items = ((click.get("selected_items") or {}).get("selected_item")) or []
    ids: list[str] = []
    for item in items if isinstance(items, list) else []:
        ids += [str(i) for i in (((item or {}).get("option_ids") or {}).get("option_id") or [])]
    return tuple(ids)


def _image(body: dict) -> dict | None:
    if body.get("msgtype") == "image" and isinstance(body.get("image"), dict):
        return body["image"]
    if body.get("msgtype") == "mixed":   # a photo with words: the photo is what the permit needs
        for item in (body.get("mixed") or {}).get("msg_item") or []:
            if isinstance(item, dict) and item.get("msgtype") == "image" and isinstance(item.get("image"), dict):
                return item["image"]
    return None


class WsConnection:
    """Hold the robot's connection while this process leads; hand every callback to on_event in a thread."""

    def __init__(self, *, bot_id: str, secret: str, url: str, redis, lock, on_event: OnEvent, ping: float = 30.0,
                 backoff: tuple[float, float] = (0.5, 30.0), timeout: float = 10.0):
        """lock: a lease with acquire_or_renew(), release(), holder(), ttl and held (jobs.scheduler.LeaderLock)."""
        self.bot_id, self.secret, self.url, self.redis, self.on_event = bot_id, secret, url, redis, on_event
        self.ping, self.backoff, self.timeout = ping, backoff, timeout
        self.lock = lock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._sending: dict[str, asyncio.Lock] = {}
        self.connections = 0
        self.last_close: str = ""
        self.handled: set[str] = set()   # msgids whose handling has finished (for tests and the demo)
        self._handled = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Lead and serve until stop(); wait while another process leads."""
        try:
            asyncio.run(self._main())
        finally:
            if self.lock.held:
                self.lock.release()
            self._status("stopped")

    def start(self) -> None:
        """Run in a daemon thread and return at once."""
        self._stopping.clear()
        # In its starter's context, as `run` in the starter's thread would be: a park enterprise's robot
        # keeps its events in the database the starter had bound.
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self.run,),
                                        name=f"wecom-ws:{self.bot_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection, give the lead up and wait for the thread."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------------
    async def _main(self) -> None:
        attempt, said_waiting = 0, False
        while not self._stopping.is_set():
            if not await asyncio.to_thread(self.lock.acquire_or_renew):
                if not said_waiting:
                    log.warning("wecom-ws: robot %s is held by another process (%s); this one waits to take over",
                                self.bot_id, self.lock.holder())
                    self._status("waiting", reason=f"held by {self.lock.holder()}")
                    said_waiting = True
                await self._sleep(self.lock.ttl / 3)
                continue
            said_waiting = False
            started = time.monotonic()
            try:
                await self._session()
            except Refused as exc:
                self.last_close = f"subscription refused: {exc}"
                log.error("wecom-ws: %s", self.last_close)
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as exc:
                self.last_close = f"{type(exc).__name__}: {exc}"
                log.warning("wecom-ws: connection lost: %s", self.last_close)
            self._status("reconnecting", reason=self.last_close)
            if self._stopping.is_set():
                return
            attempt = 0 if time.monotonic() - started >= HEALTHY_AFTER else attempt + 1
            base, cap = self.backoff
            ceiling = min(cap, base * 2 ** min(attempt, 30))
            await self._sleep(random.uniform(ceiling / 2, ceiling))

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping.is_set() and time.monotonic() < end:
            await asyncio.sleep(min(0.05, end - time.monotonic()))

    async def _session(self) -> None:
        async with websockets.connect(self.url, open_timeout=self.timeout, close_timeout=1, ping_interval=None,
                                      max_size=8 * 1024 * 1024) as ws:
            self._pending.clear()
            reader = asyncio.create_task(self._read(ws))
            await self._subscribe(ws, reader)
            self.connections += 1
            self._status("connected")
            log.info("wecom-ws: robot %s subscribed on %s", self.bot_id, self.url)
            helpers = [asyncio.create_task(self._pinger(ws)), asyncio.create_task(self._outbound(ws)),
                       asyncio.create_task(self._lead(ws)), asyncio.create_task(self._until_stopped(ws))]
            try:
                await reader
            finally:
                for task in helpers:
                    task.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                self._fail_pending("the connection closed before WeCom answered")
            if ws.close_code is not None and not self._stopping.is_set():
                reason = ws.close_reason or "no reason given"
                self.last_close = self.last_close or f"closed by WeCom: {ws.close_code} {reason}"
                log.warning("wecom-ws: %s", self.last_close)

    async def _subscribe(self, ws, reader: asyncio.Task) -> None:
        req_id = generate_req_id(WsCmd.SUBSCRIBE)
        answer = asyncio.get_running_loop().create_future()
        self._pending[req_id] = answer
        self.last_close = ""
        await ws.send(json.dumps({"cmd": WsCmd.SUBSCRIBE, "headers": {"req_id": req_id},
                                  "body": {"bot_id": self.bot_id, "secret": self.secret}}))
        done, _ = await asyncio.wait({answer, reader}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        if answer not in done:
            reader.cancel()
            raise asyncio.TimeoutError("no answer to aibot_subscribe")
        frame = answer.result()
        if frame.get("errcode", -1) != 0:
            await ws.close()
            raise Refused(f"{frame.get('errcode')} {frame.get('errmsg', '')}")

    async def _read(self, ws) -> None:
        async for raw in ws:
            now = time.time()
            self._last_frame = time.monotonic()
            await asyncio.to_thread(self.redis.set, HEARTBEAT_KEY, f"{now:.3f}", ex=HEARTBEAT_TTL)
            try:
                frame = json.loads(raw)
            except (TypeError, ValueError, RecursionError):
                log.warning("wecom-ws: a frame that is not JSON was ignored")
                continue
            if not isinstance(frame, dict):
                log.warning("wecom-ws: a frame that is not a JSON object was ignored")
                continue
            await self._frame(ws, frame)

    async def _frame(self, ws, frame: dict) -> None:
        cmd = frame.get("cmd")
        req_id = str((frame.get("headers") or {}).get("req_id") or "") if isinstance(frame.get("headers"), dict) else ""
        if cmd in (WsCmd.CALLBACK, WsCmd.EVENT_CALLBACK):
            event_type = ((frame.get("body") or {}).get("event") or {}).get("eventtype") \
                if isinstance(frame.get("body"), dict) and isinstance(frame["body"].get("event"), dict) else None
            if event_type == "disconnected_event":
                self.last_close = "disconnected_event: another connection subscribed this robot"
                log.warning("wecom-ws: %s; closing this one", self.last_close)
                await ws.close()
                return
            asyncio.create_task(self._handle(frame))
            return
        if not cmd:
            future = self._pending.pop(req_id, None)
            if future is not None and not future.done():
                future.set_result(frame)
            elif not req_id.startswith(WsCmd.HEARTBEAT):
                log.warning("wecom-ws: an answer to %s that nothing waits for was ignored", req_id[:60])
            return
        log.warning("wecom-ws: a frame with the unknown cmd %r was ignored", str(cmd)[:40])

    async def _handle(self, frame: dict) -> None:
        try:
            event = parse(frame)
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("wecom-ws: a malformed callback was ignored: %s", exc)
            return
        if event is None:
            log.warning("wecom-ws: a callback without msgid or from.userid was ignored")
            return
        try:
            result = await asyncio.to_thread(self.on_event, event)
            log.info("wecom-ws %s from %s: %s", event.kind, sender_for_log(event, result), result)
        except Exception:   # noqa: BLE001 - one failing event must not end the connection
            log.exception("wecom-ws: handling %s %s failed", event.kind, event.msg_id)
        finally:
            try:   # another process (the demo's phone) may wait for this frame's effects
                await asyncio.to_thread(self.redis.set, handled_key(event.msg_id), "1", ex=HANDLED_TTL)
            except Exception:   # noqa: BLE001 - advisory, like the status; the event itself is handled
                log.warning("wecom-ws: could not mark %s handled", event.msg_id[:60])
            with self._handled:
                self.handled.add(event.msg_id)
                self._handled.notify_all()

    def wait_handled(self, msgids, timeout: float = 10.0) -> bool:
        """Block until every msgid in msgids has been handled; return False on timeout."""
        with self._handled:
            return self._handled.wait_for(lambda: set(msgids) <= self.handled, timeout)

    async def _pinger(self, ws) -> None:
        self._last_frame = time.monotonic()
        while True:
            await asyncio.sleep(self.ping)
            if time.monotonic() - self._last_frame > 2.5 * self.ping:
                self.last_close = f"watchdog: no frame for {2.5 * self.ping:.0f} s"
                log.warning("wecom-ws: %s; closing the socket", self.last_close)
                await ws.close()
                return
            await ws.send(json.dumps({"cmd": WsCmd.HEARTBEAT, "headers": {"req_id": generate_req_id(WsCmd.HEARTBEAT)}}))

    async def _lead(self, ws) -> None:
        while True:
            await asyncio.sleep(self.lock.ttl / 3)
            if not await asyncio.to_thread(self.lock.acquire_or_renew):
                self.last_close = "lost the leader lock"
                log.warning("wecom-ws: %s; closing the socket", self.last_close)
                await ws.close()
                return

    async def _until_stopped(self, ws) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(0.05)
        await ws.close()

    # -- the workers' frames -----------------------------------------------------------------------
    async def _outbound(self, ws) -> None:
        key = bridge.requests_key(self.bot_id)
        while True:
            got = await asyncio.to_thread(self.redis.blpop, [key], 1)
            if got is None:
                continue
            try:
                request = json.loads(got[1])
                rid, cmd, req_id = request["id"], request["cmd"], request["req_id"]
            except (ValueError, KeyError, TypeError):
                log.warning("wecom-ws: a malformed bridge request was dropped")
                continue
            if request.get("deadline", 0) < time.time() or not await asyncio.to_thread(bridge.claim, self.redis, rid):
                log.info("wecom-ws: %s %s dropped: its sender stopped waiting", cmd, req_id[:40])
                continue
            asyncio.create_task(self._send(ws, rid, cmd, req_id, request.get("body") or {}))

    async def _send(self, ws, rid: str, cmd: str, req_id: str, body: dict) -> None:
        # Frames answering one req_id go one at a time: WeCom's answer names only the req_id.
        lock = self._sending.setdefault(req_id, asyncio.Lock())
        async with lock:
            future = asyncio.get_running_loop().create_future()
            self._pending[req_id] = future
            try:
                await ws.send(json.dumps({"cmd": cmd, "headers": {"req_id": req_id}, "body": body},
                                         ensure_ascii=False))
                frame = await asyncio.wait_for(future, bridge.ACK_WAIT)
            except (asyncio.TimeoutError, websockets.ConnectionClosed, ConnectionError) as exc:
                self._pending.pop(req_id, None)
                frame = {"errcode": "ws_lost", "errmsg": f"no answer from WeCom ({type(exc).__name__})",
                         "retryable": True}
            except RuntimeError as exc:   # failed by _fail_pending
                frame = {"errcode": "ws_lost", "errmsg": str(exc), "retryable": True}
        if not lock.locked():
            self._sending.pop(req_id, None)
        await asyncio.to_thread(bridge.answer, self.redis, rid, frame)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError(why))
        self._pending.clear()

    def _status(self, state: str, *, reason: str = "") -> None:
        try:
            fields = {"state": state, "bot_id": self.bot_id, "reason": reason, "at": f"{time.time():.3f}"}
            if self.last_close:   # kept across reconnects: why the socket last went away
                fields["last_close"] = self.last_close
            self.redis.hset(STATUS_KEY, mapping=fields)
        except Exception:   # noqa: BLE001 - the status is advisory; Redis being away must not end the loop
            log.warning("wecom-ws: could not write %s", STATUS_KEY)
