"""WeCom error codes the sandbox answers with, and the exception that carries them."""
from __future__ import annotations

# Codes and wording from WeCom's global error-code page (path/90313); the sandbox picks the closest one
# where the platform documents none (see ApiError users for each choice).
ERRMSG = {
    -1: "system busy",
    40001: "invalid credential, access_token is invalid or not latest",
    40004: "invalid media type",
    40005: "invalid type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40032: "invalid userid list size",
    40056: "invalid agentid",
    40058: "invalid Request Parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41006: "media_id missing",
    41008: "missing code",
    41011: "missing agentid",
    42001: "access_token expired",
    42014: "invalid task_id",
    42022: "code has been used",
    43012: "app has no callback url",
    44001: "empty media data",
    44004: "empty content",
    45001: "media size out of limit",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    81013: "user & party & tag all invalid",
    82001: "All touser & toparty & totag invalid",
}


class ApiError(Exception):
    """A refusal in WeCom's shape: HTTP 200 with a non-zero errcode."""

    def __init__(self, errcode: int, detail: str = "", **extra):
        super().__init__(f"{errcode}: {detail}")
        self.errcode, self.detail, self.extra = errcode, detail, extra

    def body(self) -> dict:
        """Return the JSON body WeCom would answer with."""
        errmsg = ERRMSG.get(self.errcode, "error")
        if self.detail:
            errmsg = f"{errmsg}, hint: [{self.detail}]"
        return {"errcode": self.errcode, "errmsg": errmsg, **self.extra}


def error_body(errcode: int) -> dict:
    """Return the JSON body of an injected fault."""
    return ApiError(errcode, "sandbox fault").body() if errcode else {"errcode": 0, "errmsg": "ok"}


class ClickRefused(Exception):
    """An action a real WeCom client could not perform (unknown member, card or key): the sandbox answers 400."""
