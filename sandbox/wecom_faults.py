"""Faults injected on request: the next N calls fail, a share of calls fail at random, or answers are slow."""
from __future__ import annotations

import random
import threading


class Faults:
    """A list of fault rules, each matching one API name (as in /cgi-bin/<name>) or "*"."""

    def __init__(self):
        self._rules: list[dict] = []
        self._lock = threading.Lock()

    def add(self, spec: dict) -> dict:
        """Validate and add one rule; return it as stored."""
        api = spec.get("api")
        if not isinstance(api, str) or not api:
            raise ValueError("api required, e.g. 'message/send' or '*'")
        rule = {"api": api.strip("/"), "delay": float(spec.get("delay") or 0)}
        if "rate" in spec:
            codes = spec.get("errcodes") or ([spec["errcode"]] if "errcode" in spec else None)
            if not codes or not all(isinstance(c, int) for c in codes):
                raise ValueError("rate needs errcodes: a list of integers")
            rule.update(rate=float(spec["rate"]), errcodes=list(codes), seed=spec.get("seed"))
            rule["rng"] = random.Random(spec.get("seed"))
        elif "errcode" in spec:
            if not isinstance(spec["errcode"], int):
                raise ValueError("errcode must be an integer")
            rule["errcode"] = spec["errcode"]
        elif not rule["delay"]:
            raise ValueError("a fault needs errcode, rate+errcodes or delay")
        if "times" in spec:
            rule["times"] = int(spec["times"])
        with self._lock:
            self._rules.append(rule)
        return self._public(rule)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict]:
        """Return the rules still active."""
        with self._lock:
            return [self._public(rule) for rule in self._rules]

    def decide(self, api: str) -> tuple[float, int | None]:
        """Return (seconds to wait, errcode to answer or None) for one call of api."""
        delay, errcode = 0.0, None
        with self._lock:
            for rule in list(self._rules):
                if rule["api"] not in (api, "*"):
                    continue
                fired = False
                if rule["delay"]:
                    delay, fired = max(delay, rule["delay"]), True
                if errcode is None and "errcode" in rule:
                    errcode, fired = rule["errcode"], True
                elif errcode is None and "rate" in rule and rule["rng"].random() < rule["rate"]:
                    errcode, fired = rule["rng"].choice(rule["errcodes"]), True
                if fired and "times" in rule:
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        self._rules.remove(rule)
        return delay, errcode

    @staticmethod
    def _public(rule: dict) -> dict:
        return {k: v for k, v in rule.items() if k != "rng"}
