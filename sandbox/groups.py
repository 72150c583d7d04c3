"""Group chats on both sandboxes: WeCom's group robot webhooks and DingTalk's robot in a group.

WeCom (docs/wecom.md section 8): POST /cgi-bin/webhook/send?key=KEY, no access token; an unknown key
is 93000; msgtype text (content <= 2048 bytes) or markdown (content <= 4096 bytes); more than 20
messages a minute from one robot is 45009.
DingTalk (docs/dingtalk.md): POST /v1.0/robot/groupMessages/send with the app token, {robotCode,
openConversationId, msgKey, msgParam}; the robot must be in the group; msgKey/msgParam as for
oToMessages/batchSend; answers {processQueryKey}.
Groups are made with POST /sandbox/groups {"groups": {id: name}}; GET /sandbox/groups shows what each got.
"""
from __future__ import annotations

import copy
import secrets
import threading
from collections import defaultdict, deque

from flask import Flask, jsonify, request

from sandbox.server import admin_body, bad

WECOM_LIMITS = {"text": 2048, "markdown": 4096}
PER_MINUTE = 20


class Groups:
    """The group chats of one sandbox and what was posted into each."""

    def __init__(self, now):
        self.now, self.lock = now, threading.Lock()
        self.names: dict[str, str] = {}
        self.posts: dict[str, list[dict]] = defaultdict(list)
        self._recent: dict[str, deque] = defaultdict(deque)

    def known(self, group: str) -> bool:
        return isinstance(group, str) and group in self.names

    def over_limit(self, group: str) -> bool:
        """Count one message to group; True when it is past PER_MINUTE in the last 60 s."""
        with self.lock:
            recent, now = self._recent[group], self.now()
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= PER_MINUTE:
                return True
            recent.append(now)
            return False

    def record(self, group: str, msgtype: str, content: dict) -> None:
        with self.lock:
            self.posts[group].append({"at": self.now(), "msgtype": msgtype, "content": copy.deepcopy(content)})

    def admin_routes(self, app: Flask) -> None:
        @app.route("/sandbox/groups", methods=["GET", "POST"])
        def groups():
            if request.method == "POST":
                body = admin_body().get("groups")
                if not isinstance(body, dict) or not all(isinstance(k, str) and k for k in body):
                    return bad("groups must map group ids to names")
                with self.lock:
                    self.names.update({k: str(v) for k, v in body.items()})
            with self.lock:
                return jsonify({"names": dict(self.names), "posts": copy.deepcopy(dict(self.posts))})


def wecom_webhook(groups: Groups, body: dict, key) -> dict:
    """Answer /cgi-bin/webhook/send?key=: the key names a group robot; text or markdown within its limit."""
    if not groups.known(key):
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    msgtype = body.get("msgtype")
    if msgtype not in WECOM_LIMITS or not isinstance(body.get(msgtype), dict):
        return {"errcode": 40008, "errmsg": "invalid message type: text or markdown with its object"}
    content = body[msgtype].get("content")
    if not isinstance(content, str) or not content:
        return {"errcode": 44004, "errmsg": "empty content"}
    if len(content.encode()) > WECOM_LIMITS[msgtype]:
        return {"errcode": 40058, "errmsg": f"{msgtype}.content exceeds {WECOM_LIMITS[msgtype]} bytes"}
    if groups.over_limit(key):
        return {"errcode": 45009, "errmsg": "api freq out of limit"}
    groups.record(key, msgtype, {"content": content})
    return {"errcode": 0, "errmsg": "ok"}


def dingtalk_group_send(groups: Groups, state, body: dict) -> dict:
    """Answer /v1.0/robot/groupMessages/send for the app's robot in a group it was added to."""
    from sandbox.dingtalk_state import AcsError
    if body.get("robotCode") != state.robot_code:
        raise AcsError(400, "invalidParameter.robotCode", "robotCode is not this app's robot")
    group = body.get("openConversationId")
    if not groups.known(group):
        raise AcsError(400, "invalidParameter.openConversationId", "the robot is not in this group")
    msgtype, content = state._robot_message(body.get("msgKey"), body.get("msgParam"))
    if groups.over_limit(group):
        raise AcsError(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "group send flow-controlled")
    groups.record(group, msgtype, content)
    return {"processQueryKey": secrets.token_urlsafe(24)}
