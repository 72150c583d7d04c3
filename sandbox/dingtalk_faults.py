"""Faults injected on request for the DingTalk sandbox: failing calls, slow answers, flow-controlled people.

A call rule names an API by the short names of sandbox/dingtalk.py (gettoken, media/upload, createAndDeliver,
updateCard, batchSend, ...) or "*". It answers the classic oapi's way (HTTP 200 {"errcode"}) or the new
API's way (HTTP status {"code"}), whichever the API speaks: {"api": "createAndDeliver", "status": 429,
"code": "Throttling", "times": 1} or {"api": "media/upload", "errcode": 90018}.

Flow control is the platform's quiet refusal: the call succeeds and the person is listed as flow-controlled
and reached by nothing. {"flow_control": ["zhangsan"], "times": 2} does so for the next two messages to
zhangsan (for ever without times); {"per_user_per_minute": 20} limits every person to 20 messages a minute.
"""
from __future__ import annotations

import threading
from collections import defaultdict, deque


class DingFaults:
    """Call rules, flow-control rules and an optional per-person minute limit; every method takes the lock."""

    def __init__(self):
        self._rules: list[dict] = []
        self._flow: dict[str, int | None] = {}      # user -> messages still refused (None: all of them)
        self._per_minute: int | None = None
        self._recent: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, spec: dict) -> list[dict]:
        """Validate and add the rules one admin request describes; return them as stored."""
        if "flow_control" in spec:
            return [self._add_flow(spec)]
        if "per_user_per_minute" in spec:
            limit = spec["per_user_per_minute"]
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValueError("per_user_per_minute must be a positive integer")
            with self._lock:
                self._per_minute = limit
            return [{"per_user_per_minute": limit}]
        return [self._add_call(spec)]

    def _add_call(self, spec: dict) -> dict:
        api = spec.get("api")
        if not isinstance(api, str) or not api:
            raise ValueError("api required, e.g. 'createAndDeliver', 'gettoken' or '*'")
        rule = {"api": api.strip("/"), "delay": float(spec.get("delay") or 0)}
        if "errcode" in spec:
            if not isinstance(spec["errcode"], int):
                raise ValueError("errcode must be an integer")
            rule["errcode"] = spec["errcode"]
        if "status" in spec:
            if not isinstance(spec["status"], int) or not 400 <= spec["status"] <= 599:
                raise ValueError("status must be an HTTP error status (400-599)")
            rule.update(status=spec["status"], code=str(spec.get("code") or "ServiceUnavailable"))
        if not rule["delay"] and "errcode" not in rule and "status" not in rule:
            raise ValueError("a fault needs errcode, status (+code) or delay")
        if "times" in spec:
            rule["times"] = int(spec["times"])
        with self._lock:
            self._rules.append(rule)
        return dict(rule)

    def _add_flow(self, spec: dict) -> dict:
        users = spec["flow_control"]
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            raise ValueError("flow_control must be a list of user ids")
        times = int(spec["times"]) if "times" in spec else None
        with self._lock:
            for user in users:
                self._flow[user] = times
        return {"flow_control": users, "times": times}

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()
            self._flow.clear()
            self._per_minute = None
            self._recent.clear()

    def list(self) -> list[dict]:
        """Return the rules still active."""
        with self._lock:
            rules = [dict(rule) for rule in self._rules]
            rules += [{"flow_control": [user], "times": times} for user, times in self._flow.items()]
            if self._per_minute:
                rules.append({"per_user_per_minute": self._per_minute})
            return rules

    def decide(self, api: str) -> tuple[float, dict | None]:
        """Return (seconds to wait, the failing rule or None) for one call of api."""
        delay, failure = 0.0, None
        with self._lock:
            for rule in list(self._rules):
                if rule["api"] not in (api, "*"):
                    continue
                fired = False
                if rule["delay"]:
                    delay, fired = max(delay, rule["delay"]), True
                if failure is None and ("errcode" in rule or "status" in rule):
                    failure, fired = dict(rule), True
                if fired and "times" in rule:
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        self._rules.remove(rule)
        return delay, failure

    def flow_controlled(self, user: str, now: float) -> bool:
        """Tell whether one message to user is refused by flow control (and count it if it is not)."""
        with self._lock:
            if user in self._flow:
                left = self._flow[user]
                if left is None:
                    return True
                if left > 0:
                    self._flow[user] = left - 1
                    if left == 1:
                        del self._flow[user]
                    return True
            if self._per_minute:
                recent = self._recent[user]
                while recent and recent[0] <= now - 60:
                    recent.popleft()
                if len(recent) >= self._per_minute:
                    return True
                recent.append(now)
            return False
