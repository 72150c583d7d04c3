"""WeCom's group robot (群机器人): a webhook per group chat, keyed by the key in its URL; no app, no token.

POST {base}/cgi-bin/webhook/send?key=KEY with {"msgtype": "markdown", "markdown": {"content": ...}}
answers {"errcode": 0, "errmsg": "ok"}. Facts and sources: docs/wecom.md section 8.
"""
from __future__ import annotations

import re

import requests

from .base import PlatformError, RateLimited

MARKDOWN_LIMIT = 4096      # bytes of markdown.content WeCom accepts
OVER_LIMIT = 45009         # more than 20 messages a minute from one robot
LIMIT_WAIT = 60.0          # seconds: the limit is per minute
BAD_KEY = (93000, 40001)   # the webhook key is wrong or the robot was removed from the group
KEY = re.compile(r"[A-Za-z0-9\-_]{1,128}")


class WeComGroupRobot:
    """Post a broadcast into the group chat a webhook key names."""

    system = "wecom"

    def __init__(self, base_url: str, *, timeout: float = 10.0):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.session = requests.Session()

    def send_group(self, group: str, text: str) -> None:
        """Send text as markdown to the group whose robot has this webhook key."""
        if not KEY.fullmatch(group or ""):
            raise PlatformError("bad_group", f"not a WeCom group robot key: {group[:40]!r}", retryable=False)
        content = text.encode()[:MARKDOWN_LIMIT].decode(errors="ignore")
        try:
            res = self.session.post(f"{self.base_url}/cgi-bin/webhook/send", params={"key": group},
                                    json={"msgtype": "markdown", "markdown": {"content": content}},
                                    timeout=self.timeout)
            answer = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise PlatformError("webhook_unreachable", type(exc).__name__, retryable=True) from exc
        code = answer.get("errcode", -1) if isinstance(answer, dict) else -1
        if code == 0:
            return
        message = f"group robot: {code} {str(answer.get('errmsg', ''))[:200] if isinstance(answer, dict) else ''}"
        if code == OVER_LIMIT:
            raise RateLimited(LIMIT_WAIT, message)
        raise PlatformError(code, message, retryable=code not in BAD_KEY)
