"""WeCom (企业微信) adapter: callbacks in, cards and messages out, on wechatpy with its traps fixed."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Callable, Mapping, Sequence, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from redis import Redis
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import jsapi
from bot.base import Event, PlatformError
from bot.ratelimit import WECOM_MEMBER_LIMITS, MemberLimiter
from bot.tokens import TokenStore
from bot.wecom_callback import CallbackReader

log = logging.getLogger(__name__)

TOKEN_ERRORS = (40014, 42001)        # invalid / expired access_token: refresh once, retry once
BUSY = -1                            # 系统繁忙: retry a few times, quickly
BUSY_RETRIES, BUSY_BACKOFF = 3, 0.1  # seconds, doubled per retry: at most 0.7 s spent in the adapter
THROTTLED = (45009, 45033)           # frequency / concurrency limits: the job layer requeues with backoff
RESPONSE_CODE_TTL = 72 * 3600        # a response_code is single-use and valid for 72 h
MAX_MEDIA = 20 * 1024 * 1024         # WeCom's largest temporary media (file) is 20 MB

T = TypeVar("T")


class _Client(WeChatClient):
    """wechatpy's WeCom client with every URL under api_base and the access token kept in Redis."""

    def __init__(self, corp_id: str, secret: str, *, api_base: str, tokens: TokenStore, timeout: float):
        self._tokens = tokens
        # auto_retry=False: wechatpy's own retry on token errors recurses without bound.
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base + "/cgi-bin/"

    @property
    def access_token(self) -> str:
        """Return the token shared through Redis (wechatpy's per-process cache is not used)."""
        return self._tokens.get(self.fetch_access_token)

    def fetch_access_token(self) -> tuple[str, int]:
        """Call gettoken under api_base (wechatpy hard-codes qyapi.weixin.qq.com here)."""
        res = self._http.get(self.API_BASE_URL + "gettoken", timeout=self.timeout,
                             params={"corpid": self.corp_id, "corpsecret": self.secret})
        result = self._handle_result(_checked(res))  # raises on a non-zero errcode (no auto retry)
        if not isinstance(result, dict) or not result.get("access_token"):
            raise PlatformError("bad_answer", "gettoken answered without an access_token", retryable=True)
        return result["access_token"], int(result.get("expires_in") or 7200)

    def download(self, media_id: str, limit: int) -> bytes:
        """GET media/get under api_base with this client's session (wechatpy uses bare requests.get)."""
        res = self._http.get(self.API_BASE_URL + "media/get", timeout=self.timeout, stream=True,
                             params={"access_token": self.access_token, "media_id": media_id})
        with res:
            _checked(res)
            data = bytearray()
            for chunk in res.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise PlatformError("media_too_large", f"media {media_id} exceeds {limit} bytes",
                                        retryable=False)
        # A file comes with Content-Disposition; an error is a JSON body without one.
        if "content-disposition" not in res.headers and data[:1] == b"{":
            try:
                result = json.loads(data)
            except ValueError:
                result = None
            if isinstance(result, dict) and int(result.get("errcode") or 0) != 0:
                raise WeChatClientException(int(result["errcode"]), result.get("errmsg", ""), client=self,
                                            request=res.request, response=res)
        return bytes(data)


def _checked(res: requests.Response) -> requests.Response:
    """Raise an HTTP failure the way wechatpy does, so one error path handles both."""
    try:
        res.raise_for_status()
    except requests.HTTPError as exc:
        raise WeChatClientException(None, f"HTTP {res.status_code}", request=exc.request, response=res) from exc
    return res


class WeComAdapter:
    """One WeCom app: verify and parse its callbacks, send to and update cards of its members."""

    platform = "wecom"
    max_file_bytes = MAX_MEDIA   # the largest file media/upload takes; a larger export goes another way

    def __init__(self, *, corp_id: str, agent_id: int, secret: str, token: str, aes_key: str,
                 api_base: str = "https://qyapi.weixin.qq.com", redis: Redis, replay_window: float = 300,
                 clock: Callable[[], float] = time.time, key_prefix: str = "wecom",
                 member_limits: Sequence[tuple[int, float]] = WECOM_MEMBER_LIMITS, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, oauth_base: str = "https://open.weixin.qq.com",
                 jssdk_url: str = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"):
        self.agent_id, self.corp_id, self.oauth_base = int(agent_id), corp_id, oauth_base.rstrip("/")
        self.jssdk_url = jssdk_url
        self._redis, self._sleep = redis, sleep
        base = api_base.rstrip("/").removesuffix("/cgi-bin")
        scope = f"{key_prefix}:{corp_id}:{self.agent_id}"
        self._prefix = scope
        self._tokens = TokenStore(redis, f"{scope}:token")
        self._tickets = TokenStore(redis, f"{scope}:jsapi-ticket")
        self._limiter = MemberLimiter(redis, f"{scope}:sent", member_limits)
        self.client = _Client(corp_id, secret, api_base=base, tokens=self._tokens, timeout=timeout)
        self._callbacks = CallbackReader(corp_id=corp_id, token=token, aes_key=aes_key,
                                         replay_window=replay_window, clock=clock)

    # -- callbacks ---------------------------------------------------------------------------------

    def verify_url(self, args: Mapping) -> str:
        """Answer the callback-URL handshake: return the decrypted echostr, or raise CallbackRejected."""
        return self._callbacks.verify_url(args)

    def parse_callback(self, args: Mapping, body: bytes) -> Event:
        """Verify, decrypt and map one POSTed callback, or raise CallbackRejected (400/403)."""
        return self._callbacks.parse(args, body)

    # -- outbound ----------------------------------------------------------------------------------

    def send_card(self, user_id: str, card: dict) -> dict:
        """Send a template_card; return {"msgid", "response_code", "invaliduser"}."""
        result = self._send(user_id, {"msgtype": "template_card", "template_card": card})
        return {"msgid": result.get("msgid", ""), "response_code": result.get("response_code", ""),
                "invaliduser": result.get("invaliduser", "")}

    def send_text(self, user_id: str, text: str) -> dict:
        """Send a text message; return {"msgid", "invaliduser"}."""
        # WeCom drops the same text to the same member within the interval: a resend after a
        # worker died mid-delivery is absorbed by the platform instead of reaching them twice.
        result = self._send(user_id, {"msgtype": "text", "text": {"content": text},
                                      "enable_duplicate_check": 1, "duplicate_check_interval": 1800})
        return {"msgid": result.get("msgid", ""), "invaliduser": result.get("invaliduser", "")}

    def send_file(self, user_id: str, filename: str, data: bytes) -> dict:
        """Upload `data` as file media and send it; return {"msgid", "media_id", "invaliduser"}."""
        self._limiter.take(user_id)  # before the upload, so a refused send wastes no upload
        upload = self._call_json(lambda: self.client.media.upload("file", (filename, data)))
        media_id = upload["media_id"]
        result = self._send(user_id, {"msgtype": "file", "file": {"media_id": media_id}}, slot_taken=True)
        return {"msgid": result.get("msgid", ""), "media_id": media_id,
                "invaliduser": result.get("invaliduser", "")}

    def update_card(self, user_ids: list[str], response_code: str, *, card: dict | None = None,
                    replace_name: str | None = None) -> None:
        """Replace the card (or just its buttons' label) that `response_code` identifies, once."""
        if (card is None) == (replace_name is None):
            raise ValueError("give exactly one of card= or replace_name=")
        data: dict = {"userids": list(user_ids), "agentid": self.agent_id, "response_code": response_code}
        if card is not None:
            data["template_card"] = card
        else:
            data["button"] = {"replace_name": replace_name}
        # The spent code remembers what it wrote: a resend of the very same update (its first answer
        # came, but the worker died before settling the card) is done already, not a failure.
        used = f"{self._prefix}:rc:{hashlib.sha1(response_code.encode()).hexdigest()}"
        wrote = hashlib.sha1(json.dumps([data["userids"], card, replace_name], sort_keys=True,
                                        ensure_ascii=False).encode()).hexdigest()
        spent = self._redis.get(used)
        if spent is not None:
            if (spent.decode() if isinstance(spent, bytes) else spent) == wrote:
                return
            raise PlatformError("response_code_used", "this response_code has already updated its card",
                                retryable=False)
        # Card updates are not new messages, so they take no per-member send slot.
        self._call_json(lambda: self.client.post("message/update_template_card", data=data))
        self._redis.set(used, wrote, ex=RESPONSE_CODE_TTL)

    def fetch_media(self, media_id: str) -> bytes:
        """Download a temporary media file (e.g. a photo sent in chat)."""
        return self._call(lambda: self.client.download(media_id, MAX_MEDIA))

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Return the silent (snsapi_base) OAuth link that sends a page opened in WeCom back with a code."""
        query = urlencode({"appid": self.corp_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": "snsapi_base", "state": state, "agentid": self.agent_id})
        return f"{self.oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect"

    def user_from_oauth_code(self, code: str) -> str:
        """Return the member's userid for an OAuth code; a non-member or bad code raises PlatformError."""
        result = self._call_json(lambda: self.client.get("auth/getuserinfo", params={"code": code}))
        user_id = result.get("userid") or result.get("UserId")  # the latter: older answer shape
        if not user_id:
            raise PlatformError("not_member", "the code belongs to someone outside the corp", retryable=False)
        return user_id

    def jsapi_config(self, page_url: str, apis: tuple[str, ...] = ("getLocation",)) -> dict:
        """Return what the page at page_url needs to load the JS-SDK and call apis (wx.getLocation)."""
        ticket = self._tickets.get(self._fetch_ticket)
        nonce, timestamp, signature = jsapi.signed(ticket, page_url)
        return {"sdk": "wecom", "script": self.jssdk_url, "datum": "wgs84",
                "config": {"beta": False, "debug": False, "appId": self.corp_id, "timestamp": timestamp,
                           "nonceStr": nonce, "signature": signature, "jsApiList": list(apis)}}

    def fetch_camera_photo(self, server_id: str) -> bytes:
        """Download a photo the selfie page's wx.uploadImage put on WeCom: its serverId is a media_id."""
        return self.fetch_media(server_id)

    def _fetch_ticket(self) -> tuple[str, int]:
        result = self._call_json(lambda: self.client.get("get_jsapi_ticket"))
        if not result.get("ticket"):
            raise PlatformError("bad_answer", "get_jsapi_ticket answered without a ticket", retryable=True)
        return result["ticket"], int(result.get("expires_in") or jsapi.TICKET_SECONDS)

    # -- plumbing ----------------------------------------------------------------------------------

    def _send(self, user_id: str, msg: dict, *, slot_taken: bool = False) -> dict:
        if not slot_taken:
            self._limiter.take(user_id)
        # The slot stays taken even if the send fails: WeCom may have delivered it before failing.
        result = self._call_json(lambda: self.client.message.send(self.agent_id, user_id, msg=msg))
        if result.get("invaliduser"):
            log.warning("wecom send to %s: invaliduser=%s", user_id, result["invaliduser"])
        return result

    def _call_json(self, request: Callable[[], object]) -> dict:
        """Run one API call that must answer a JSON object."""
        result = self._call(request)
        if not isinstance(result, dict):  # wechatpy hands back the raw Response when the body is not JSON
            raise PlatformError("bad_answer", "the platform answered something other than JSON", retryable=True)
        return result

    def _call(self, request: Callable[[], T]) -> T:
        """Run one API call, refreshing the token at most once and retrying -1 a few times."""
        refreshed, busy, stale = False, 0, None
        while True:
            try:
                if stale is not None:  # inside the try: a failing gettoken is mapped like any other call
                    self._tokens.refresh(self.client.fetch_access_token, stale=stale)
                    stale = None
                return request()
            except WeChatClientException as exc:
                code = exc.errcode
                if code in TOKEN_ERRORS and not refreshed:
                    refreshed, stale = True, _token_in(exc) or self._tokens.peek() or ""
                    log.info("wecom token rejected (%s); refreshing once", code)
                    continue
                if code == BUSY and busy < BUSY_RETRIES:
                    self._sleep(BUSY_BACKOFF * 2 ** busy)
                    busy += 1
                    continue
                raise _platform_error(exc) from exc
            except requests.RequestException as exc:
                raise PlatformError("http", f"{type(exc).__name__}: {exc}", retryable=True) from exc


def _token_in(exc: WeChatClientException) -> str | None:
    """Return the access_token the failed request carried, so we refresh only if nobody else has."""
    url = getattr(exc.request, "url", None) or ""
    return (parse_qs(urlsplit(url).query).get("access_token") or [None])[0]


def _platform_error(exc: WeChatClientException) -> PlatformError:
    code, message = exc.errcode, str(exc.errmsg or "")
    if code is None:  # HTTP status failure: a 5xx may pass, a 4xx will not
        status = getattr(exc.response, "status_code", 0) or 0
        return PlatformError("http", message or f"HTTP {status}", retryable=status >= 500 or status == 429)
    # Token errors land here only after the one refresh failed: a later attempt may still succeed.
    retryable = code in THROTTLED or code == BUSY or code in TOKEN_ERRORS
    return PlatformError(int(code), message, retryable=retryable)

