"""What every platform adapter produces and raises: neutral events and named refusals."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """One genuine, decrypted callback from a chat platform, in platform-neutral form."""
    platform: str                 # "wecom" | "dingtalk"
    kind: str                     # "click" | "text" | "image" | "unknown"
    user_id: str                  # the platform's account id of whoever acted
    created_at: int               # platform timestamp (seconds)
    key: str = ""                 # button key (click)
    task_id: str = ""             # the card's task id (click)
    response_code: str = ""       # single-use code to update the clicked card (WeCom)
    selected: tuple[str, ...] = ()  # ticked option ids (checklist cards)
    text: str = ""
    media_id: str = ""
    msg_id: str = ""
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def dedupe_key(self) -> str:
        """Return the key that makes a retried callback recognisable."""
        if self.msg_id:
            return f"{self.platform}:msg:{self.msg_id}"
        return f"{self.platform}:{self.kind}:{self.user_id}:{self.task_id}:{self.key}:{self.created_at}"


def fit_utf8(text: str, limit: int) -> str:
    """Cut text to at most limit bytes of UTF-8, marking the cut (platforms count message size in bytes)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class CallbackRejected(Exception):
    """A callback that must not be processed; status is the HTTP answer (400 or 403)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class PlatformError(Exception):
    """The platform refused an outbound call; retryable says whether trying later may succeed."""

    def __init__(self, code: int | str, message: str, *, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable


class RateLimited(PlatformError):
    """A send would exceed a per-member limit the platform enforces by dropping silently."""

    def __init__(self, retry_after: float, message: str):
        super().__init__("rate_limited", message, retryable=True)
        self.retry_after = retry_after
