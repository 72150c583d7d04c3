"""The smart robot's long-connection gateway: a local websocket server speaking WeCom's aibot frames.

Frames are JSON {cmd, headers: {req_id}, body}; answers carry the request's req_id with errcode/errmsg
(docs/wecom.md section 7 names the source of each rule). The gateway shares the sandbox's chats, so the
phone view and /sandbox/messages show what came over the socket as what came over the API.

- aibot_subscribe {bot_id, secret} first; anything else before it: errcode 846609 (not subscribed); a
  wrong bot_id or secret: 40001 and the socket is closed. One live connection per robot: a new
  subscription sends the old one a disconnected_event and closes it.
- ping: answered errcode 0.
- aibot_send_msg {chatid, msgtype markdown|template_card|file|image}: delivered to the member; a reused
  task_id is 42014 as on message/send [unverified on the socket].
- aibot_respond_update_msg {response_type, userids?, template_card}: only with the req_id of a
  template_card_event frame, once, within window seconds of the click; unknown req_id 846605, a second
  answer 846606, too late 846607 (sandbox codes [unverified]).
- aibot_upload_media_init / _chunk / _finish: chunked upload into the sandbox's media store.
- any other cmd: 40008 with the cmd named in errmsg.
Clicks, texts and photos of members become aibot_event_callback / aibot_msg_callback frames with a fresh
msgid; a photo is stored AES-256-CBC encrypted under its own aeskey, as the platform sends media.
Faults: drop_on (close the socket when the next frame with that cmd arrives, before applying it),
drop now, close with a code and reason, send a raw frame.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from sandbox.wecom_cards import check_card
from sandbox.wecom_errors import ApiError, ClickRefused

NOT_SUBSCRIBED = 846609
REQ_UNKNOWN, REQ_ANSWERED, REQ_LATE = 846605, 846606, 846607
SEND_TYPES = ("markdown", "template_card", "file", "image")


class WsGateway:
    """One websocket server on loopback for one robot of the sandboxed corp; stop() ends it."""

    def __init__(self, state, *, bot_id: str, secret: str, window: float = 5.0, host: str = "127.0.0.1"):
        self.state, self.bot_id, self.secret, self.window = state, bot_id, secret, window
        self.lock = threading.RLock()
        self.live = None                   # the subscribed connection
        self.received: list[dict] = []     # every frame from the app, with what it was answered
        self.pushed: list[dict] = []       # every callback frame sent to the app
        self.closed: list[dict] = []
        self.clicks: dict[str, dict] = {}  # req_id of a template_card_event -> {user, msgid, at, answered}
        self.uploads: dict[str, dict] = {}
        self.encrypted: dict[str, bytes] = {}
        self.faults = {"drop_on": None}
        self._server = serve(self._handle, host, 0)
        self.url = f"ws://{host}:{self._server.socket.getsockname()[1]}"
        threading.Thread(target=self._server.serve_forever, name="wecom-ws-gateway", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()

    # -- the connection ----------------------------------------------------------------------------
    def _handle(self, ws) -> None:
        subscribed = False
        try:
            for raw in ws:
                try:
                    frame = json.loads(raw)
                    cmd = frame.get("cmd")
                    req_id = str((frame.get("headers") or {}).get("req_id") or "")
                except (ValueError, AttributeError):
                    self._log({"raw": str(raw)[:200]}, {"errcode": 40058, "errmsg": "frame is not a JSON object"})
                    continue
                with self.lock:
                    if self.faults["drop_on"] and self.faults["drop_on"] == cmd:
                        self.faults["drop_on"] = None
                        self._log(frame, {"dropped": True})
                        ws.close(1011, "sandbox fault: dropped mid-card")
                        return
                if cmd == "aibot_subscribe":
                    subscribed = self._subscribe(ws, frame, req_id)
                    if not subscribed:
                        return
                    continue
                if not subscribed:
                    answer = {"errcode": NOT_SUBSCRIBED, "errmsg": "not subscribed"}
                else:
                    answer = self._answer(cmd, req_id, frame.get("body") if isinstance(frame.get("body"), dict) else {})
                self._log(frame, answer)
                ws.send(json.dumps({"headers": {"req_id": req_id}, **answer}, ensure_ascii=False))
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                if self.live is ws:
                    self.live = None
                self.closed.append({"at": self.state.now(), "code": ws.close_code, "reason": ws.close_reason})

    def _subscribe(self, ws, frame: dict, req_id: str) -> bool:
        body = frame.get("body") if isinstance(frame.get("body"), dict) else {}
        if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
            answer = {"errcode": 40001, "errmsg": "invalid bot_id or secret"}
            self._log(frame, answer)
            ws.send(json.dumps({"headers": {"req_id": req_id}, **answer}))
            ws.close(1008, "invalid bot_id or secret")
            return False
        with self.lock:
            old, self.live = self.live, ws
        if old is not None:
            # WeCom keeps the newest connection and tells the old one why it goes.
            try:
                old.send(json.dumps(self._callback_frame("aibot_event_callback", None, {
                    "msgtype": "event", "event": {"eventtype": "disconnected_event", "disconnected_event": {}}})))
                old.close(1000, "a new connection subscribed this robot")
            except ConnectionClosed:
                pass
        answer = {"errcode": 0, "errmsg": "ok"}
        self._log(frame, answer)
        ws.send(json.dumps({"headers": {"req_id": req_id}, **answer}))
        return True

    def _answer(self, cmd, req_id: str, body: dict) -> dict:
        try:
            if cmd == "ping":
                return {"errcode": 0, "errmsg": "ok"}
            if cmd == "aibot_send_msg":
                return self._send_msg(body)
            if cmd == "aibot_respond_update_msg":
                return self._update(req_id, body)
            if cmd in ("aibot_upload_media_init", "aibot_upload_media_chunk", "aibot_upload_media_finish"):
                return self._upload(cmd, body)
        except ApiError as exc:
            return exc.body()
        return {"errcode": 40008, "errmsg": f"unknown cmd {str(cmd)[:40]!r}"}

    def _log(self, frame: dict, answer: dict) -> None:
        with self.lock:
            self.received.append({"at": self.state.now(), "frame": copy.deepcopy(frame), "answer": answer})

    # -- what the app sends ------------------------------------------------------------------------
    def _send_msg(self, body: dict) -> dict:
        state, msgtype = self.state, body.get("msgtype")
        user = state.member(body.get("chatid")) if isinstance(body.get("chatid"), str) else None
        if user is None:
            raise ApiError(40058, "chatid is not a member of the corp")
        if msgtype not in SEND_TYPES or not isinstance(body.get(msgtype), dict):
            raise ApiError(40008, f"msgtype must be one of {', '.join(SEND_TYPES)} with its object")
        payload = body[msgtype]
        with state.lock:
            task_id = None
            if msgtype == "template_card":
                check_card(payload, has_callback=True)
                task_id = payload.get("task_id")
                if task_id is not None and task_id in state.tasks:
                    raise ApiError(42014, f"task_id {task_id} already used by this robot")
            elif msgtype in ("file", "image"):
                state.media.get(payload.get("media_id"))
            elif not isinstance(payload.get("content"), str) or not payload["content"]:
                raise ApiError(40058, "markdown.content required")
            send = {"msgid": secrets.token_urlsafe(24), "msgtype": msgtype, "content": copy.deepcopy(payload),
                    "task_id": task_id, "recipients": [user], "sent_at": state.now(), "response_code": None}
            if task_id is not None:
                state.tasks[task_id] = send
            state._deliver(user, send, state.now(), via="ws")
        return {"errcode": 0, "errmsg": "ok"}

    def _update(self, req_id: str, body: dict) -> dict:
        state = self.state
        with self.lock, state.lock:
            click = self.clicks.get(req_id)
            if click is None:
                raise ApiError(REQ_UNKNOWN, "req_id names no template_card_event on this connection")
            if click["answered"]:
                raise ApiError(REQ_ANSWERED, "this req_id was answered already")
            if state.now() - click["at"] > self.window:
                raise ApiError(REQ_LATE, f"the update came more than {self.window:g} s after the click")
            card = body.get("template_card")
            if body.get("response_type") != "update_template_card" or not isinstance(card, dict):
                raise ApiError(40058, "response_type update_template_card and template_card required")
            check_card(card, has_callback=True)
            if card.get("task_id") not in (None, click["task_id"]):
                raise ApiError(40058, "template_card.task_id must be the clicked card's")
            for entry in state.chats[click["user"]]:
                if entry["msgid"] == click["msgid"]:
                    state._apply(entry, {"card": copy.deepcopy(card)}, state.now(), via="ws")
            click["answered"] = True
        return {"errcode": 0, "errmsg": "ok"}

    def _upload(self, cmd: str, body: dict) -> dict:
        with self.lock:
            if cmd == "aibot_upload_media_init":
                if body.get("type") not in ("file", "image") or not body.get("filename"):
                    raise ApiError(40005, "type file|image and filename required")
                upload_id = secrets.token_hex(12)
                self.uploads[upload_id] = {**body, "chunks": {}}
                return {"errcode": 0, "errmsg": "ok", "body": {"upload_id": upload_id}}
            upload = self.uploads.get(body.get("upload_id"))
            if upload is None:
                raise ApiError(40058, "unknown upload_id")
            if cmd == "aibot_upload_media_chunk":
                upload["chunks"][int(body.get("chunk_index", -1))] = base64.b64decode(body.get("base64_data") or "")
                return {"errcode": 0, "errmsg": "ok"}
            data = b"".join(upload["chunks"][i] for i in sorted(upload["chunks"]))
            if len(upload["chunks"]) != upload.get("total_chunks") or len(data) != upload.get("total_size"):
                raise ApiError(40006, "chunks missing or sizes differ")
            stored = self.state.media.upload(upload["type"], upload["filename"], "application/octet-stream", data)
            del self.uploads[body["upload_id"]]
            return {"errcode": 0, "errmsg": "ok", "body": {"type": upload["type"], "media_id": stored["media_id"],
                                                           "created_at": str(int(self.state.now()))}}

    # -- what members do ---------------------------------------------------------------------------
    def _callback_frame(self, cmd: str, user: str | None, body: dict) -> dict:
        req_id = f"{cmd}_{int(time.time() * 1000)}_{secrets.token_hex(4)}"
        full = {"msgid": secrets.token_hex(16), "create_time": int(self.state.now()), "aibotid": self.bot_id,
                "chattype": "single", **({"chatid": user, "from": {"userid": user}} if user else {}), **body}
        return {"cmd": cmd, "headers": {"req_id": req_id}, "body": full}

    def _push(self, frame: dict, *, repeat: int = 1) -> dict:
        with self.lock:
            ws = self.live
            if ws is None:
                raise ClickRefused("the robot has no live long connection")
            self.pushed.append(copy.deepcopy(frame))
        for _ in range(max(1, repeat)):
            ws.send(json.dumps(frame, ensure_ascii=False))
        return frame

    def click(self, user: str, task_id: str, key: str, selected: dict, *, repeat: int = 1) -> dict:
        """Push a template_card_event for a click a real client could make; return the frame."""
        fields = self.state.prepare_click(user, task_id, key, selected)
        items = [{"question_key": q, "option_ids": {"option_id": ids}} for q, ids in (selected or {}).items()]
        frame = self._callback_frame("aibot_event_callback", fields["user"], {"msgtype": "event", "event": {
            "eventtype": "template_card_event", "template_card_event": {
                "card_type": fields["card_type"], "event_key": key, "task_id": task_id,
                "selected_items": {"selected_item": items}}}})
        with self.lock:
            self.clicks[frame["headers"]["req_id"]] = {"user": fields["user"], "msgid": fields["msgid"],
                                                        "task_id": task_id, "at": self.state.now(), "answered": False}
        return self._push(frame, repeat=repeat)

    def message(self, user: str, msgtype: str, content: dict, *, repeat: int = 1) -> dict:
        """Push a member's message (text, or an image already stored) as aibot_msg_callback; return the frame."""
        if msgtype == "image":
            media = self.state.media.get(content["media_id"])
            key = os.urandom(32)
            self.encrypted[content["media_id"]] = encrypt(media["data"], key)
            content = {"url": f"{content['base']}sandbox/ws-media/{content['media_id']}",
                       "aeskey": base64.b64encode(key).decode().rstrip("=")}
        entry = self.state.record_from_user(user, msgtype, content)
        return self._push(self._callback_frame("aibot_msg_callback", entry["user"],
                                               {"msgtype": msgtype, msgtype: content}), repeat=repeat)

    # -- faults and inspection ---------------------------------------------------------------------
    def drop(self, *, code: int = 1011, reason: str = "sandbox fault: dropped") -> bool:
        """Close the live connection now with code and reason; return whether there was one."""
        with self.lock:
            ws = self.live
        if ws is None:
            return False
        ws.close(code, reason)
        return True

    def raw(self, frame: dict) -> None:
        """Send the live connection any frame (for refusals the app must survive)."""
        self._push(frame)

    def snapshot(self) -> dict:
        with self.lock:
            return {"connected": self.live is not None, "url": self.url, "received": copy.deepcopy(self.received),
                    "pushed": copy.deepcopy(self.pushed), "closed": list(self.closed), "faults": dict(self.faults)}


def encrypt(data: bytes, key: bytes) -> bytes:
    """AES-256-CBC with iv = key[:16] and PKCS#7 padding to 32 bytes, as the platform encrypts media."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    pad = 32 - len(data) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()
