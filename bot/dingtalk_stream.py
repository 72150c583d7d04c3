"""DingTalk Stream mode: one outbound websocket that brings card clicks and robot messages to the app.

dingtalk-stream's frame classes and handlers are used as they are; its connection loop is not (it sleeps
a fixed 10 s after a drop and reconnects at once after a clean close), and its endpoint is read from the
environment once, at import. So this module opens the connection under api_base itself and runs its own
loop: exponential backoff with jitter, reset once a connection has lived a while.

DingTalk does not send a CALLBACK frame again, ACKed or not (docs/dingtalk.md, Stream mode). So a frame
is ACKed only after on_event has returned, and on_event must have made the event durable by then (the
product stores it in its inbox and handles it from there). A frame that arrives twice anyway carries
the same messageId, and the inbox's unique key absorbs it.
"""
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import platform
import random
import threading
import time
from typing import Callable
from urllib.parse import quote_plus

import requests
import websockets
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotMessage, Credential, \
    DingTalkStreamClient, SystemMessage
from dingtalk_stream.frames import Headers
from dingtalk_stream.version import VERSION_STRING

from bot.base import CallbackRejected, Event

# Read by /readyz: the time this process last held its socket, refreshed while it is open.
HEARTBEAT_KEY, HEARTBEAT_EVERY, HEARTBEAT_TTL = "ws:dingtalk:heartbeat", 10, 45

log = logging.getLogger(__name__)

CARD_TOPIC = CallbackHandler.TOPIC_CARD_CALLBACK     # /v1.0/card/instances/callback
ROBOT_TOPIC = ChatbotMessage.TOPIC                   # /v1.0/im/bot/messages/get
HEALTHY_AFTER = 60.0     # seconds a connection must live before the backoff starts again from the bottom
DRAIN_SECONDS = 5.0      # on a disconnect frame, how long in-flight handlers get to ACK before we close
OnEvent = Callable[[Event], "dict | None"]


class StreamError(Exception):
    """The gateway would not open a connection (bad credentials, HTTP error, an answer without a ticket)."""


class _Client(DingTalkStreamClient):
    """The SDK client, opening its connection under api_base with a timeout and its own session."""

    def __init__(self, credential: Credential, *, api_base: str, timeout: float, logger: logging.Logger):
        super().__init__(credential, logger=logger)
        self.open_connection_api = api_base.rstrip("/") + "/v1.0/gateway/connections/open"
        self._timeout, self._session = timeout, requests.Session()

    def open_connection(self) -> dict:
        """POST gateway/connections/open; return {"endpoint", "ticket"} or raise StreamError."""
        subscriptions = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        body = {"clientId": self.credential.client_id, "clientSecret": self.credential.client_secret,
                "subscriptions": subscriptions, "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
                "localIp": ""}   # informational only; the SDK's probe would open a socket towards 8.8.8.8
        headers = {"Accept": "application/json",
                   "User-Agent": f"DingTalkStream/1.0 SDK/{VERSION_STRING} Python/{platform.python_version()}"}
        try:
            res = self._session.post(self.open_connection_api, json=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise StreamError(f"cannot reach the gateway: {type(exc).__name__}") from exc
        if res.status_code != 200:
            raise StreamError(f"connections/open answered HTTP {res.status_code}: {res.text[:200]}")
        try:
            answer = res.json()
        except ValueError:
            raise StreamError("connections/open answered something other than JSON") from None
        if not isinstance(answer, dict) or not answer.get("endpoint") or not answer.get("ticket"):
            raise StreamError("connections/open answered without endpoint and ticket")
        return answer


class _Handler(CallbackHandler):
    """Parse one topic's frames into Events, hand them to on_event in a thread, then ACK."""

    def __init__(self, parse: Callable[..., Event], on_event: OnEvent):
        super().__init__()
        self._parse, self._on_event = parse, on_event

    async def raw_process(self, message: CallbackMessage) -> AckMessage:
        mid = message.headers.message_id or ""
        try:
            event = self._parse(message.data, message_id=mid)
        except CallbackRejected as exc:
            log.warning("dingtalk stream frame %s refused: %s", mid, exc.reason)
            return ack(mid, AckMessage.STATUS_BAD_REQUEST, exc.reason)
        try:
            # on_event touches the database and blocks: keep it off the loop that answers pings.
            response = await asyncio.to_thread(self._on_event, event)
        except Exception:   # noqa: BLE001 - the loop must live on; DingTalk will not send the frame again
            log.exception("dingtalk stream frame %s: on_event could not keep it; answering 500 (the event is "
                          "lost: DingTalk does not resend CALLBACK frames)", mid)
            return ack(mid, AckMessage.STATUS_SYSTEM_EXCEPTION, "the app failed to handle the event")
        return ack(mid, AckMessage.STATUS_OK, "", response or {})


def ack(message_id: str, code: int, message: str, response: dict | None = None) -> AckMessage:
    """Build the ACK frame for one CALLBACK frame: {"code", "headers", "message", "data": {"response"}}."""
    frame = AckMessage()
    frame.code, frame.message = code, message
    frame.headers.message_id = message_id
    frame.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
    frame.data = {"response": response if response is not None else {}}
    return frame


class StreamConnection:
    """Keep one Stream connection open for an adapter; hand every card click and robot message to on_event.

    on_event(event) runs in a worker thread; it must make the event durable (or decide to ignore it)
    before returning, because its return is what ACKs the frame and DingTalk never sends it again.
    Its dict, if any, is the ACK's `response` (for a card callback: a card update DingTalk applies at
    once). Raising makes the ACK a 500, which DingTalk only logs.
    """

    def __init__(self, adapter, *, on_event: OnEvent, api_base: str, backoff: tuple[float, float] = (0.5, 30.0),
                 logger: logging.Logger | None = None, healthy_after: float = HEALTHY_AFTER, timeout: float = 10.0):
        self._log = logger or log
        self._backoff, self._healthy_after, self._timeout = backoff, healthy_after, timeout
        self.client = _Client(Credential(adapter.app_key, adapter.app_secret), api_base=api_base,
                              timeout=timeout, logger=self._log)
        self.client.register_callback_handler(CARD_TOPIC, _Handler(adapter.card_event, on_event))
        self.client.register_callback_handler(ROBOT_TOPIC, _Handler(adapter.robot_event, on_event))
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self._redis = getattr(adapter, "_redis", None)
        self.connections = 0   # how many websockets were opened (for the demo and tests)

    # -- lifecycle ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Connect and serve until stop() (or Ctrl-C); reconnect after every drop."""
        loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except KeyboardInterrupt:
            self._log.info("dingtalk stream interrupted")
        finally:
            self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()   # shuts the to_thread pool down without waiting for an on_event still running

    def start(self) -> None:
        """Run in a daemon thread and return at once."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this StreamConnection is already running")
        self._stopping.clear()
        # The thread runs in its starter's context, as `run` in the starter's own thread would: what the
        # starter had bound (a park enterprise's database and apps) is where the events are kept.
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self.run,),
                                        name="dingtalk-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and wait for the thread; what on_event kept is handled from the inbox."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:   # the loop closed meanwhile: it is stopping anyway
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._log.warning("dingtalk stream thread still running %.0f s after stop()", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop ----------------------------------------------------------------------------------

    async def _main(self) -> None:
        attempt = 0
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                stopped = await self._until_stopped(self._session())
                if stopped:
                    return
                if time.monotonic() - started >= self._healthy_after:
                    attempt = 0
                delay = self._delay(attempt)
                attempt += 1
                self._log.info("dingtalk stream reconnecting in %.2f s", delay)
                if await self._until_stopped(asyncio.sleep(delay)):
                    return
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _until_stopped(self, work) -> bool:
        """Run work until it ends or stop() is called; return True if stopped."""
        job, wake = asyncio.ensure_future(work), asyncio.ensure_future(self._wake.wait())
        done, _ = await asyncio.wait({job, wake}, return_when=asyncio.FIRST_COMPLETED)
        if job not in done:
            job.cancel()
        else:
            wake.cancel()
        results = await asyncio.gather(job, wake, return_exceptions=True)
        error = results[0]
        if isinstance(error, Exception) and not isinstance(error, asyncio.CancelledError):
            self._log.warning("dingtalk stream connection lost: %s: %s", type(error).__name__, error)
        return self._stopping.is_set()

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: somewhere in the upper half of base * 2^attempt, capped."""
        base, cap = self._backoff
        ceiling = min(cap, base * 2 ** min(attempt, 30))
        return random.uniform(ceiling / 2, ceiling)

    async def _session(self) -> None:
        """Open one connection and serve it until it closes or the gateway asks us to reconnect."""
        connection = await asyncio.to_thread(self.client.open_connection)
        uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
        async with websockets.connect(uri, open_timeout=self._timeout, close_timeout=1,
                                      max_size=4 * 1024 * 1024) as ws:
            self.connections += 1
            self._log.info("dingtalk stream connected to %s", connection["endpoint"])
            beating = asyncio.create_task(self._heartbeat())
            try:
                async for raw in ws:
                    if await self._receive(ws, raw) == DingTalkStreamClient.TAG_DISCONNECT:
                        self._log.info("dingtalk stream: gateway asked to reconnect")
                        await self._drain()
                        return
            finally:
                beating.cancel()
        self._log.warning("dingtalk stream closed by the gateway (code %s)", ws.close_code)

    async def _heartbeat(self) -> None:
        """Say in Redis, while the socket is open, that this process holds it (what /readyz reads)."""
        while self._redis is not None:
            try:
                await asyncio.to_thread(self._redis.set, HEARTBEAT_KEY, f"{time.time():.3f}", ex=HEARTBEAT_TTL)
            except Exception as exc:  # noqa: BLE001 - Redis away: readiness says so, the socket stays up
                self._log.warning("dingtalk stream: heartbeat not written (%s)", exc)
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _drain(self) -> None:
        """Give in-flight handlers a moment to ACK on this connection before it is closed."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)

    async def _receive(self, ws, raw) -> str:
        """Answer SYSTEM frames at once; handle CALLBACK frames in their own task (a ping must not wait)."""
        try:
            frame = json.loads(raw)
        except (TypeError, ValueError, RecursionError):
            self._log.warning("dingtalk stream: a frame that is not JSON was ignored")
            return ""
        if not isinstance(frame, dict):
            self._log.warning("dingtalk stream: a frame that is not a JSON object was ignored")
            return ""
        kind = frame.get("type")
        if kind == SystemMessage.TYPE:
            return await self._system(ws, frame)
        if kind == CallbackMessage.TYPE:
            task = asyncio.create_task(self._callback(ws, frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return ""
        self._log.warning("dingtalk stream: ignored a %s frame (topic %s)", kind,
                          (frame.get("headers") or {}).get("topic") if isinstance(frame.get("headers"), dict) else "")
        return ""

    async def _system(self, ws, frame: dict) -> str:
        try:
            message = SystemMessage.from_dict(frame)
        except (TypeError, ValueError, AttributeError, RecursionError):
            self._log.warning("dingtalk stream: a malformed SYSTEM frame was ignored")
            return ""
        await self._send(ws, await self.client.system_handler.raw_process(message), message.headers.message_id)
        if message.headers.topic == SystemMessage.TOPIC_DISCONNECT:
            return DingTalkStreamClient.TAG_DISCONNECT
        return ""

    async def _callback(self, ws, frame: dict) -> None:
        headers = frame.get("headers") if isinstance(frame.get("headers"), dict) else {}
        mid = str(headers.get("messageId") or "")
        try:
            message = CallbackMessage.from_dict(frame)
        except (TypeError, ValueError, AttributeError, RecursionError):
            await self._send(ws, ack(mid, AckMessage.STATUS_BAD_REQUEST, "data is not JSON"), mid)
            return
        handler = self.client.callback_handler_map.get(message.headers.topic)
        if handler is None:
            await self._send(ws, ack(mid, AckMessage.STATUS_NOT_IMPLEMENT, f"no handler for {message.headers.topic}"),
                             mid)
            return
        await self._send(ws, await handler.raw_process(message), mid)

    async def _send(self, ws, frame: AckMessage, mid: str) -> None:
        try:
            await ws.send(json.dumps(frame.to_dict(), ensure_ascii=False))
        except websockets.ConnectionClosed:
            self._log.warning("dingtalk stream: ACK %s for %s lost with the connection (DingTalk does not "
                              "resend; what was kept is handled from the inbox)", frame.code, mid)
