"""The Stream gateway: a local websocket server that pushes CALLBACK frames and holds them until ACKed.

A client opens a connection with POST /v1.0/gateway/connections/open (sandbox/dingtalk.py issues the
ticket here) and connects to ws://127.0.0.1:<port>/connect?ticket=; an unknown, used or expired ticket
is closed with 1008. Frames go only to connections that subscribed to their topic.

Delivery rules (docs/dingtalk.md "Stream mode"):
- an ACK {"code", "headers": {"messageId"}, "data": "{\"response\": ...}"} with code 200-499 delivers
  the frame; on_ack(frame, ack) then applies the response (a card update) and says what it did;
- a CALLBACK frame (card click, robot message) is pushed once and never again, as DingTalk does: a 5xx
  ACK, no ACK within ack_timeout, or the connection dropped first leaves it "lost" (a late ACK still
  counts). Only EVENT frames, which DingTalk does resend, go back to pending and are sent again, with
  the same messageId, retry_delay later;
- an ACK that is not JSON, lacks headers.messageId or names no frame goes to bad_acks; the connection lives.
SYSTEM frames: a `ping` every ping_interval (the SDK echoes it) and, on request, a `disconnect` after
which the gateway closes the connection disconnect_grace seconds later unless the client did.
Faults: drop every connection now, drop after the next N frames, withhold (lose) or duplicate the next
N frames, send a frame whose data is not JSON (sent once, never redelivered).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

TICKET_TTL = 90
TICK = 0.02   # seconds between the pump's looks at timeouts and pending frames


class StreamGateway:
    """One websocket server on loopback, its connections and every frame it pushed; stop() ends it."""

    def __init__(self, *, app_id: str, now, on_ack=None, host: str = "127.0.0.1", ack_timeout: float = 5.0,
                 retry_delay: float = 1.0, ping_interval: float = 60.0, disconnect_grace: float = 10.0):
        self.app_id, self.now, self.on_ack = app_id, now, on_ack
        self.ack_timeout, self.retry_delay = ack_timeout, retry_delay
        self.ping_interval, self.disconnect_grace = ping_interval, disconnect_grace
        self._cond = threading.Condition()
        self.tickets: dict[str, dict] = {}
        self.conns: dict[str, dict] = {}
        self.closed: list[dict] = []
        self.frames: dict[str, dict] = {}      # messageId -> record, in the order published
        self.system: list[dict] = []           # SYSTEM frames sent, with their acks
        self.bad_acks: list[dict] = []
        self.faults = {"drop_after": None, "withhold": 0, "duplicate": 0}
        self._stopped = False
        self._server = serve(self._handle, host, 0)
        self.port = self._server.socket.getsockname()[1]
        self.endpoint = f"ws://{host}:{self.port}/connect"
        self._threads = [threading.Thread(target=self._server.serve_forever, name=f"stream:{self.port}", daemon=True),
                         threading.Thread(target=self._pump, name=f"stream-pump:{self.port}", daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- tickets and connections ------------------------------------------------------------------
    def issue_ticket(self, subscriptions: list[dict]) -> str:
        """Mint a single-use ticket for a connection subscribed to the given CALLBACK/EVENT topics."""
        ticket = secrets.token_hex(16)
        topics = {s.get("topic") for s in subscriptions if isinstance(s, dict)}
        with self._cond:
            self.tickets[ticket] = {"expires_at": self.now() + TICKET_TTL, "topics": topics}
        return ticket

    def _handle(self, ws) -> None:
        ticket = (parse_qs(urlsplit(ws.request.path).query).get("ticket") or [""])[0]
        with self._cond:
            grant = self.tickets.pop(ticket, None)
        if grant is None or grant["expires_at"] <= self.now():
            ws.close(1008, "invalid or used ticket")
            return
        with self._cond:
            cid = secrets.token_hex(8)
            self.conns[cid] = {"connectionId": cid, "ws": ws, "topics": grant["topics"], "opened_at": self.now(),
                               "frames_sent": 0, "last_ping": time.monotonic(), "draining_until": None}
            self._cond.notify_all()
        try:
            for raw in ws:
                self._on_ack(cid, raw)
        except ConnectionClosed:
            pass
        finally:
            self._forget(cid)

    def _forget(self, cid: str) -> None:
        with self._cond:
            conn = self.conns.pop(cid, None)
            if conn is None:
                return
            self.closed.append({"connectionId": cid, "topics": sorted(t for t in conn["topics"] if t),
                                "opened_at": conn["opened_at"], "closed_at": self.now(),
                                "frames_sent": conn["frames_sent"]})
            for rec in self.frames.values():
                if rec["status"] == "in_flight" and rec["connection"] == cid:
                    self._requeue(rec, "connection closed before the ACK", delay=0.0)
            self._cond.notify_all()

    def has_listener(self, topic: str) -> bool:
        """Tell whether some open connection subscribed to topic."""
        with self._cond:
            return self._pick(topic) is not None

    def _pick(self, topic: str) -> dict | None:
        live = [c for c in self.conns.values() if topic in c["topics"] and c["draining_until"] is None]
        return min(live, key=lambda c: c["frames_sent"]) if live else None

    # -- frames -----------------------------------------------------------------------------------
    def publish(self, topic: str, data, *, copies: int = 1, redeliver: bool = True, kind: str = "CALLBACK") -> str:
        """Queue one frame (data: a dict, or a raw string); send it copies times at first; return its id.

        Only an EVENT frame is ever sent again (redeliver); a CALLBACK frame goes out once.
        """
        mid = secrets.token_hex(16)
        with self._cond:
            self.frames[mid] = {"messageId": mid, "topic": topic, "type": kind,
                                "data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
                                "status": "pending", "copies": max(1, copies), "redeliver": redeliver,
                                "attempts": [], "acks": [], "code": None, "connection": None, "deadline": None,
                                "not_before": 0.0, "created_at": self.now()}
            self._cond.notify_all()
        return mid

    def _frame(self, rec: dict, cid: str) -> str:
        headers = {"appId": self.app_id, "connectionId": cid, "contentType": "application/json",
                   "messageId": rec["messageId"], "time": str(int(self.now() * 1000)), "topic": rec["topic"]}
        return json.dumps({"specVersion": "1.0", "type": rec["type"], "headers": headers, "data": rec["data"]},
                          ensure_ascii=False)

    def _requeue(self, rec: dict, why: str, *, delay: float) -> None:
        rec["attempts"][-1]["outcome"] = why
        rec["connection"] = rec["deadline"] = None
        if rec["redeliver"] and rec["type"] != "CALLBACK":
            rec.update(status="pending", not_before=time.monotonic() + delay)
        else:
            rec["status"] = "failed"   # DingTalk does not resend a CALLBACK frame: it is lost to the app

    def _pump(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                sends, closes = self._due(time.monotonic())
                if not sends and not closes:
                    self._cond.wait(TICK)
                    continue
            self._send_all(sends)
            for ws in closes:
                ws.close(1001, "dropped by the sandbox")

    def _due(self, mono: float) -> tuple[list, list]:
        sends, closes = [], []
        for rec in self.frames.values():
            if rec["status"] == "in_flight" and rec["deadline"] <= mono:
                self._requeue(rec, f"no ACK within {self.ack_timeout:g} s", delay=self.retry_delay)
            if rec["status"] != "pending" or rec["not_before"] > mono:
                continue
            conn = self._pick(rec["topic"])
            if conn is None:
                continue
            first = not rec["attempts"]
            rec.update(status="in_flight", connection=conn["connectionId"], deadline=mono + self.ack_timeout)
            attempt = {"connectionId": conn["connectionId"], "at": self.now(), "outcome": None}
            rec["attempts"].append(attempt)
            if self.faults["withhold"] > 0:
                self.faults["withhold"] -= 1
                attempt["withheld"] = True   # lost on the way: the ACK timeout brings it back
                continue
            count = rec["copies"] if first else 1
            if self.faults["duplicate"] > 0:
                self.faults["duplicate"] -= 1
                count += 1
            attempt["copies"] = count
            conn["frames_sent"] += count
            sends.append((conn, self._frame(rec, conn["connectionId"]), count))
            closes += self._drop_after_fault()
        for conn in self.conns.values():
            if conn["draining_until"] is not None and conn["draining_until"] <= mono:
                conn["draining_until"] = float("inf")
                closes.append(conn["ws"])
            elif self.ping_interval and mono - conn["last_ping"] >= self.ping_interval:
                conn["last_ping"] = mono
                sends.append((conn, self._system_frame("ping", {"opaque": secrets.token_hex(8)}, conn), 1))
        return sends, closes

    def _drop_after_fault(self) -> list:
        if self.faults["drop_after"] is None:
            return []
        self.faults["drop_after"] -= 1
        if self.faults["drop_after"] > 0:
            return []
        self.faults["drop_after"] = None
        return [c["ws"] for c in self.conns.values()]

    @staticmethod
    def _send_all(sends) -> None:
        for conn, text, count in sends:
            try:
                for _ in range(count):
                    conn["ws"].send(text)
            except ConnectionClosed:
                pass  # the connection's own thread requeues what was in flight on it

    def _system_frame(self, topic: str, data: dict, conn: dict) -> str:
        rec = {"messageId": secrets.token_hex(16), "topic": topic, "type": "SYSTEM", "data": json.dumps(data),
               "connectionId": conn["connectionId"], "at": self.now(), "acks": []}
        self.system.append(rec)
        return self._frame(rec, conn["connectionId"])

    # -- ACKs -------------------------------------------------------------------------------------
    def _on_ack(self, cid: str, raw) -> None:
        try:
            ack = json.loads(raw)
        except (TypeError, ValueError):
            ack = None
        headers = ack.get("headers") if isinstance(ack, dict) else None
        mid = headers.get("messageId") if isinstance(headers, dict) else None
        applied = None
        with self._cond:
            if not isinstance(mid, str) or not mid:
                return self._bad(cid, raw, "not a JSON ACK with headers.messageId")
            system = next((s for s in self.system if s["messageId"] == mid), None)
            if system is not None:
                system["acks"].append({"connectionId": cid, "code": ack.get("code"), "data": ack.get("data")})
                return None
            rec, code = self.frames.get(mid), ack.get("code")
            if rec is None:
                return self._bad(cid, raw, f"no frame has messageId {mid}")
            if not isinstance(code, int) or isinstance(code, bool) or not 200 <= code <= 599:
                return self._bad(cid, raw, "code is not an HTTP-like status")
            entry = {"connectionId": cid, "code": code, "message": ack.get("message"), "data": ack.get("data"),
                     "at": self.now(), "applied": None}
            rec["acks"].append(entry)
            first = code < 500 and rec["status"] != "delivered"   # a late ACK of a lost frame still counts
            if first:
                if rec["attempts"]:
                    rec["attempts"][-1]["outcome"] = f"ACK {code}"
                rec.update(status="delivered", code=code, connection=None, deadline=None)
            elif code >= 500 and rec["status"] == "in_flight" and rec["connection"] == cid:
                self._requeue(rec, f"ACK {code}", delay=self.retry_delay)
            self._cond.notify_all()
        if first and self.on_ack is not None:
            applied = self.on_ack(dict(rec), ack)
            with self._cond:
                entry["applied"] = applied
                self._cond.notify_all()
        return None

    def _bad(self, cid: str, raw, why: str) -> None:
        text = raw if isinstance(raw, str) else repr(raw)
        self.bad_acks.append({"connectionId": cid, "raw": text[:2000], "why": why, "at": self.now()})

    def wait(self, mid: str, *, timeout: float, acks: int = 1) -> dict:
        """Wait until frame mid is delivered with at least `acks` ACKs, or lost (or timeout); return a copy of it."""
        def ready():
            rec = self.frames[mid]
            if rec["status"] == "failed":   # never sent again: nothing more will come
                return True
            if rec["status"] != "delivered" or len(rec["acks"]) < acks:
                return False
            return self.on_ack is None or any(a["applied"] is not None for a in rec["acks"])
        with self._cond:
            self._cond.wait_for(ready, timeout=timeout)
            return json.loads(json.dumps(self.frames[mid], default=str))

    # -- faults and inspection --------------------------------------------------------------------
    def set_faults(self, spec: dict) -> dict:
        """Set drop_after / withhold / duplicate (counts of frames to come); return the faults now set."""
        with self._cond:
            for key in ("drop_after", "withhold", "duplicate"):
                if key in spec:
                    value = spec[key]
                    if value is not None and (not isinstance(value, int) or value < (1 if key == "drop_after" else 0)):
                        raise ValueError(f"{key} must be a non-negative integer (drop_after at least 1)")
                    self.faults[key] = value if key == "drop_after" else (value or 0)
            return dict(self.faults)

    def drop_all(self) -> int:
        """Close every connection now, as a network failure would; return how many."""
        with self._cond:
            victims = [c["ws"] for c in self.conns.values()]
        for ws in victims:
            ws.close(1001, "dropped by the sandbox")
        return len(victims)

    def disconnect_all(self) -> int:
        """Send SYSTEM disconnect to every connection and close them disconnect_grace seconds later."""
        with self._cond:
            sends = []
            for conn in self.conns.values():
                if conn["draining_until"] is None:
                    conn["draining_until"] = time.monotonic() + self.disconnect_grace
                    sends.append((conn, self._system_frame("disconnect", {"reason": "sandbox"}, conn), 1))
        self._send_all(sends)
        return len(sends)

    def ping_all(self) -> int:
        """Send a SYSTEM ping to every connection now."""
        with self._cond:
            sends = [(c, self._system_frame("ping", {"opaque": secrets.token_hex(8)}, c), 1)
                     for c in self.conns.values()]
        self._send_all(sends)
        return len(sends)

    def snapshot(self) -> dict:
        """Return connections, pending frames, delivered frames with their ACKs, bad ACKs and SYSTEM frames."""
        def public(rec):
            return {k: rec[k] for k in ("messageId", "topic", "status", "code", "attempts", "acks", "data",
                                        "created_at")}
        with self._cond:
            snap = {"endpoint": self.endpoint, "faults": dict(self.faults),
                    "connections": [{"connectionId": c["connectionId"], "topics": sorted(t for t in c["topics"] if t),
                                     "opened_at": c["opened_at"], "frames_sent": c["frames_sent"],
                                     "draining": c["draining_until"] is not None} for c in self.conns.values()],
                    "closed": list(self.closed),
                    "pending": [public(r) for r in self.frames.values() if r["status"] in ("pending", "in_flight")],
                    "delivered": [public(r) for r in self.frames.values() if r["status"] == "delivered"],
                    "failed": [public(r) for r in self.frames.values() if r["status"] == "failed"],
                    "bad_acks": list(self.bad_acks), "system": list(self.system)}
            return json.loads(json.dumps(snap, default=str))

    def stop(self) -> None:
        """Close every connection and the server; wait for the threads."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
