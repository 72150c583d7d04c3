"""What every platform adapter produces and raises: neutral events and named refusals."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


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
        """Return the key that makes a retried callback recognisable and a genuine repeat new."""
        if self.msg_id:   # the platform's own id of the message or frame: a retry carries it again
            return f"{self.platform}:msg:{self.msg_id}"
        if self.response_code:
            # Minted per click and repeated only by a retry: two taps in one second differ here.
            return f"{self.platform}:click:{_digest(self.user_id, self.task_id, self.response_code)}"
        # No id at all: the whole content, so that only an identical callback counts as the same.
        content = self.raw or {k: v for k, v in asdict(self).items() if k != "raw"}
        text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
        return f"{self.platform}:content:{_digest(text)}"

    @property
    def dedupe_seconds(self) -> int:
        """Return how long a callback with this key counts as already seen."""
        if self.msg_id or self.response_code:
            return SEEN_SECONDS
        # Content alone cannot tell a retry from the same click made again later, so it is a retry
        # only while the platform is still retrying.
        return RETRY_SECONDS


# The platforms retry a callback within seconds (WeCom: 3 tries, 5 s apart); an hour covers any storm.
SEEN_SECONDS = 3600
RETRY_SECONDS = 60


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


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

# What the dispatcher answers for an event whose sender must not be recorded (an anonymous report):
# the doors' log lines leave the sender's id out for it.
ANONYMOUS = "anonymous"


def sender_for_log(event: Event, result: str) -> str:
    """Return who to name in the log line of a handled event: nobody for an anonymous one."""
    return "(匿名)" if result == ANONYMOUS else event.user_id
