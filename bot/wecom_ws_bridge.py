"""How a worker speaks on the long connection that another process holds: requests and answers through Redis.

WeCom allows one live connection per robot, held by `python app.py wecom-ws`; the rq workers that
deliver the outbox cannot open their own. A worker pushes a frame to the robot's request list and
waits for the answer WeCom gave to it. Each request carries a deadline and a claim key: the
connection sends a request only if it claims it first, and a worker that gave up claims it as
abandoned, so a request is either sent once or not at all, never sent after its sender stopped
waiting. Only when the connection dies between sending and WeCom's answer is the outcome unknown;
that is reported as retryable (delivery is at least once there; WeCom's task_id check makes a
repeated card harmless, see docs/wecom.md section 7).
"""
from __future__ import annotations

import json
import time
import uuid

from .base import PlatformError

ANSWER_WAIT = 10.0        # seconds a worker waits for a request to be sent and answered
ACK_WAIT = 5.0            # seconds the connection waits for WeCom's answer to one frame (as the SDK does)
KEEP = 600                # seconds claim and answer keys outlive their request


def requests_key(bot_id: str) -> str:
    return f"ws:wecom:{bot_id}:requests"


def answer_key(rid: str) -> str:
    return f"ws:wecom:answer:{rid}"


def claim_key(rid: str) -> str:
    return f"ws:wecom:claim:{rid}"


class Bridge:
    """The worker's end: call(cmd, body) sends one frame over the robot's connection and returns WeCom's answer."""

    def __init__(self, redis, bot_id: str, *, wait: float = ANSWER_WAIT):
        self.redis, self.bot_id, self.wait = redis, bot_id, wait

    def call(self, cmd: str, body: dict, *, req_id: str | None = None) -> dict:
        """Send {cmd, headers: {req_id}, body}; return the answer frame, or raise PlatformError on errcode != 0."""
        from wecom_aibot_sdk.utils import generate_req_id
        rid = uuid.uuid4().hex
        request = {"id": rid, "cmd": cmd, "req_id": req_id or generate_req_id(cmd), "body": body,
                   "deadline": time.time() + self.wait}
        self.redis.rpush(requests_key(self.bot_id), json.dumps(request, ensure_ascii=False))
        got = self.redis.blpop([answer_key(rid)], timeout=max(1, int(self.wait)))
        if got is None:
            if self.redis.set(claim_key(rid), "abandoned", nx=True, ex=KEEP):
                raise PlatformError("ws_offline", f"{cmd}: no wecom-ws connection answered within "
                                    f"{self.wait:.0f} s; nothing was sent", retryable=True)
            # The connection claimed it just in time: its answer (or its loss) is on the way.
            got = self.redis.blpop([answer_key(rid)], timeout=int(ACK_WAIT) + 5)
            if got is None:
                raise PlatformError("ws_unknown", f"{cmd}: sent, but the connection went silent", retryable=True)
        answer = json.loads(got[1])
        code = answer.get("errcode", -1)
        if code == 0:
            return answer
        raise PlatformError(code, f"{cmd}: {answer.get('errmsg', '')}", retryable=bool(answer.get("retryable")))


def claim(redis, rid: str) -> bool:
    """Take a request for sending; False when its worker gave up on it already."""
    return bool(redis.set(claim_key(rid), "sending", nx=True, ex=KEEP))


def answer(redis, rid: str, frame: dict) -> None:
    """Hand WeCom's answer (or our own account of a loss) back to the waiting worker."""
    pipe = redis.pipeline()
    pipe.rpush(answer_key(rid), json.dumps(frame, ensure_ascii=False))
    pipe.expire(answer_key(rid), KEEP)
    pipe.execute()
