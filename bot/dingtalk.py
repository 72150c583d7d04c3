"""DingTalk (钉钉) adapter: interactive cards and robot messages out, card clicks and chat messages in.

Two SDKs, two tokens (docs/dingtalk.md): the classic oapi through dingtalk-sdk's AppKeyClient (media
upload, unionid → userid) and the new api.dingtalk.com through alibabacloud-dingtalk (cards, robot
messages, OAuth). Whether one token works for the other API is [unverified], so each has its own
TokenStore in Redis.
"""
from __future__ import annotations

import json
import logging
import struct
import time
from pathlib import PurePath
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from alibabacloud_dingtalk.card_1_0 import client as card_client, models as card_models
from alibabacloud_dingtalk.contact_1_0 import client as contact_client, models as contact_models
from alibabacloud_dingtalk.oauth2_1_0 import client as oauth2_client, models as oauth2_models
from alibabacloud_dingtalk.robot_1_0 import client as robot_client, models as robot_models
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from dingtalk import AppKeyClient
from dingtalk.core.exceptions import DingTalkClientException, InvalidCorpIdOrSuiteKeyException, \
    InvalidSignatureException
from dingtalk.crypto import DingTalkCrypto
from redis import Redis
from Tea.exceptions import TeaException

from bot import jsapi
from bot.base import CallbackRejected, Event, PlatformError, RateLimited
from cards.actions import option_id
from cards.dingtalk import MAX_OPTIONS
from bot.dingtalk_sign import CARD_HEADERS, DEFAULT_WINDOW, CallbackGuard, SignRefused, card_api_secret, card_sign
from bot.tokens import TokenStore

log = logging.getLogger(__name__)

OAPI_TOKEN_ERRORS = (40014, 42001, 88)   # invalid / expired token (88: the TOP gateway's): refresh once
OAPI_THROTTLED = (90002, 90018, 90019)   # platform / app QPS limits [codes unverified: docs/dingtalk.md]
NOT_FOUND_USER = 60121                   # getbyunionid: nobody in this corp has that unionid
API_TOKEN_ERROR = "InvalidAuthentication"
CHECKLIST_COMPONENT = "checklist"   # the card template's multi-select component (docs/dingtalk.md)
# Error codes DingTalk documents for the new API (docs/dingtalk.md, Errors): matched exactly.
CARD_EXISTS_CODES = frozenset({"param.cardAlreadyExist"})              # 创建卡片: 卡片已经存在
QPS_LIMIT_CODES = frozenset({"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",   # per app and API
                             "Forbidden.AccessDenied.QpsLimitForApi"})           # all apps, one API
QPS_LIMIT_WAIT = 1.0    # the limit is per second: DingTalk's advice is to wait a second and call again
FLOW_CONTROL_WAIT = 60.0                 # seconds before a flow-controlled person is tried again [unverified]
MAX_MEDIA = 20 * 1024 * 1024             # oapi media/upload takes files up to 20 MB
# Where biz.util.uploadImageFromCamera's links point (docs/dingtalk.md "JS-SDK": static.dingtalk.com,
# *.alicdn.com); the API's own host too, which is the sandbox's in tests.
MEDIA_HOSTS = frozenset({"static.dingtalk.com"})
MAX_BODY = 64 * 1024                     # a real callback is a few KiB
UNDELIVERED_TTL = 7 * 24 * 3600         # how long a created-but-undelivered card is remembered
CARD_TOPIC, ROBOT_TOPIC = "card", "robot"


class _OapiClient(AppKeyClient):
    """dingtalk-sdk's AppKeyClient under oapi_base, with its own session and the token kept in Redis."""

    def __init__(self, *, corp_id: str, app_key: str, app_secret: str, oapi_base: str, tokens: TokenStore,
                 timeout: float):
        # auto_retry=False: the SDK retries token errors without bound; _oapi() refreshes once instead.
        super().__init__(corp_id, app_key, app_secret, timeout=timeout, auto_retry=False)
        self._http = requests.Session()   # the SDK's session is class-level, shared by every client
        self.API_BASE_URL = oapi_base + "/"
        self._tokens = tokens

    @property
    def access_token(self) -> str:
        """Return the token shared through Redis (the SDK's in-memory cache is not used)."""
        return self._tokens.get(self.fetch_access_token)

    def fetch_access_token(self) -> tuple[str, int]:
        """GET gettoken?appkey&appsecret under oapi_base."""
        result = self._request("GET", "gettoken", params={"appkey": self.app_key, "appsecret": self.app_secret})
        if not isinstance(result, dict) or not result.get("access_token"):
            raise PlatformError("bad_answer", "gettoken answered without an access_token", retryable=True)
        return result["access_token"], int(result.get("expires_in") or 7200)

    def _handle_request_except(self, e, func, *args, **kwargs):
        raise e   # neither clear the SDK's cache nor retry: the adapter decides


class DingTalkAdapter:
    """One DingTalk internal app: its cards, robot messages, callbacks and board check-in."""

    platform = "dingtalk"
    max_file_bytes = MAX_MEDIA

    def __init__(self, *, app_key: str, app_secret: str, corp_id: str, robot_code: str, card_template_id: str,
                 redis: Redis, api_base: str = "https://api.dingtalk.com",
                 oapi_base: str = "https://oapi.dingtalk.com", login_base: str = "https://login.dingtalk.com",
                 callback_type: str = "STREAM", callback_route_key: str = "", event_token: str = "",
                 event_aes_key: str = "", replay_window: float = DEFAULT_WINDOW, clock: Callable[[], float] = time.time,
                 key_prefix: str = "dingtalk", timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 agent_id: int = 0, jssdk_url: str = "https://g.alicdn.com/dingding/dingtalk-jsapi/2.10.3/dingtalk.open.js"):
        callback_type = callback_type.upper()
        if callback_type not in ("STREAM", "HTTP"):
            raise ValueError(f"callback_type must be STREAM or HTTP, not {callback_type!r}")
        if callback_type == "HTTP" and not callback_route_key:
            raise ValueError("HTTP card callbacks need a callback_route_key")
        self.app_key, self.corp_id, self.robot_code = app_key, corp_id, robot_code or app_key
        self.card_template_id, self.callback_type, self.callback_route_key = \
            card_template_id, callback_type, callback_route_key
        self.api_base, self.login_base = api_base.rstrip("/"), login_base.rstrip("/")
        self.app_secret = app_secret   # also the Stream clientSecret (bot/dingtalk_stream.py)
        self._secret, self._window, self._clock, self._sleep = app_secret, replay_window, clock, sleep
        scope = self._scope = f"{key_prefix}:{corp_id}:{app_key}"
        self._redis = redis
        self._oapi_tokens = TokenStore(redis, f"{scope}:oapi-token")
        self._api_tokens = TokenStore(redis, f"{scope}:api-token")
        self._tickets = TokenStore(redis, f"{scope}:jsapi-ticket")
        self.agent_id, self.jssdk_url = int(agent_id), jssdk_url
        self.oapi = _OapiClient(corp_id=corp_id, app_key=app_key, app_secret=app_secret,
                                oapi_base=oapi_base.rstrip("/"), tokens=self._oapi_tokens, timeout=timeout)
        config = _tea_config(self.api_base, timeout)
        self.cards, self.robot = card_client.Client(config), robot_client.Client(config)
        self.oauth2, self.contact = oauth2_client.Client(config), contact_client.Client(config)
        self._runtime = util_models.RuntimeOptions(read_timeout=int(timeout * 1000),
                                                   connect_timeout=int(timeout * 1000))
        self._http = requests.Session()   # for downloadUrl, which points outside both APIs
        self._timeout = timeout
        # Owner key = AppKey for an app-level event subscription (docs/dingtalk.md "dingtalk-sdk"):
        # the SDK's clients would pass corp_id, so the crypto object is built here.
        self._crypto = DingTalkCrypto(event_token, event_aes_key, app_key) if event_aes_key else None
        self._guard = CallbackGuard(secret=app_secret, redis=redis, scope=scope, window=replay_window, clock=clock)
        # Card callbacks are signed otherwise: with the apiSecret registered for the route key.
        self.card_api_secret = card_api_secret(app_secret)
        self._card_guard = CallbackGuard(secret=self.card_api_secret, redis=redis, scope=scope, window=replay_window,
                                         clock=clock, headers=CARD_HEADERS, signer=card_sign)

    # -- outbound ----------------------------------------------------------------------------------

    def send_card(self, user_id: str, card: dict) -> dict:
        """Create and deliver an interactive card to one person; return {"outTrackId", "carrierId"}.

        An outTrackId that DingTalk already knows raises PlatformError("card_exists"): the card was
        delivered before (a resend after a crash). The exception is a card created but not delivered
        (flow control): a marker in Redis, set before creating and cleared once delivered, makes the
        retry deliver the existing instance instead of mistaking it for a card the person has.
        """
        out_track_id, params = card.get("outTrackId"), card.get("cardParamMap")
        if not out_track_id or not isinstance(params, dict):
            raise PlatformError("bad_card", "a card needs an outTrackId and a cardParamMap", retryable=False)
        if not all(isinstance(v, str) for v in params.values()):
            raise PlatformError("bad_card", "every cardParamMap value must be a string", retryable=False)
        space = {"openSpaceId": f"dtv1.card//IM_ROBOT.{user_id}", "outTrackId": out_track_id, "userIdType": 1,
                 "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": self.robot_code}}
        marker = f"{self._scope}:undelivered:{out_track_id}"
        retry_of_undelivered = bool(self._redis.exists(marker))
        self._redis.set(marker, user_id, ex=UNDELIVERED_TTL)
        try:
            delivered = self._create_and_deliver(user_id, params, space)
        except PlatformError as exc:
            if not (_says_card_exists(exc) and retry_of_undelivered):
                if not exc.retryable:   # nothing a retry could finish: forget the attempt
                    self._redis.delete(marker)
                if _says_card_exists(exc):
                    raise PlatformError("card_exists", f"outTrackId {out_track_id} was used before",
                                        retryable=False) from exc
                raise
            delivered = self._deliver_existing(user_id, space)
        self._redis.delete(marker)
        return {"outTrackId": out_track_id, "carrierId": delivered.get("carrierId") or ""}

    def _create_and_deliver(self, user_id: str, params: dict, space: dict) -> dict:
        body = {**space, "cardTemplateId": self.card_template_id, "cardData": {"cardParamMap": params},
                "callbackType": self.callback_type, "imRobotOpenSpaceModel": {"supportForward": False}}
        if self.callback_type == "HTTP":
            body["callbackRouteKey"] = self.callback_route_key
        request = _without_private_data(card_models.CreateAndDeliverRequest().from_map(body))
        answer = self._api(lambda token: self.cards.create_and_deliver_with_options(
            request, card_models.CreateAndDeliverHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        return _delivered(user_id, answer, (answer.get("result") or {}).get("deliverResults"))

    def _deliver_existing(self, user_id: str, space: dict) -> dict:
        """POST /v1.0/card/instances/deliver: put an instance created earlier into the person's chat."""
        log.info("dingtalk card %s exists but never reached %s; delivering it", space["outTrackId"], user_id)
        request = card_models.DeliverCardRequest().from_map(space)
        answer = self._api(lambda token: self.cards.deliver_card_with_options(
            request, card_models.DeliverCardHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        return _delivered(user_id, answer, answer.get("result"))

    def update_card(self, out_track_id: str, param_map: dict) -> None:
        """Overwrite the given variables of a delivered card (the others keep their values)."""
        request = _without_private_data(card_models.UpdateCardRequest().from_map({
            "outTrackId": out_track_id, "cardData": {"cardParamMap": param_map},
            "cardUpdateOptions": {"updateCardDataByKey": True}}))
        answer = self._api(lambda token: self.cards.update_card_with_options(
            request, card_models.UpdateCardHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        if answer.get("success") is False:
            raise PlatformError("update_failed", f"card {out_track_id} was not updated: {answer}", retryable=False)

    def send_text(self, user_id: str, text: str) -> None:
        """Send a one-to-one robot text message."""
        self._batch_send(user_id, "sampleText", {"content": text})

    def send_file(self, user_id: str, filename: str, data: bytes) -> None:
        """Upload a file as oapi media and send it one-to-one through the robot."""
        if len(data) > self.max_file_bytes:
            raise PlatformError("file_too_large", f"{filename}: {len(data)} bytes exceeds {self.max_file_bytes}",
                                retryable=False)
        upload = self._oapi(lambda: self.oapi.post("media/upload", params={"type": "file"},
                                                   files={"media": (filename, data)}))
        media_id = upload.get("media_id")
        if not media_id:
            raise PlatformError("bad_answer", "media/upload answered without a media_id", retryable=True)
        file_type = PurePath(filename).suffix.lstrip(".").lower() or "file"
        self._batch_send(user_id, "sampleFile", {"mediaId": media_id, "fileName": filename, "fileType": file_type})

    def fetch_media(self, download_code: str) -> bytes:
        """Download a file a person sent the robot (e.g. a photo), at most max_file_bytes."""
        request = robot_models.RobotMessageFileDownloadRequest(download_code=download_code,
                                                               robot_code=self.robot_code)
        answer = self._api(lambda token: self.robot.robot_message_file_download_with_options(
            request, robot_models.RobotMessageFileDownloadHeaders(x_acs_dingtalk_access_token=token),
            self._runtime))
        url = answer.get("downloadUrl")
        if not url:
            raise PlatformError("bad_answer", "messageFiles/download answered without a downloadUrl", retryable=True)
        return self._download(url, self.max_file_bytes)

    # -- inbound -----------------------------------------------------------------------------------

    def card_event(self, data: dict, *, message_id: str = "") -> Event:
        """Map a card callback (Stream data or HTTP body) to a click Event, or raise CallbackRejected(400)."""
        if not isinstance(data, dict):
            raise CallbackRejected(400, "card callback is not a JSON object")
        user_id, out_track_id = data.get("userId"), data.get("outTrackId")
        if not (isinstance(user_id, str) and user_id and isinstance(out_track_id, str) and out_track_id):
            raise CallbackRejected(400, "card callback without userId or outTrackId")
        content = _json_field(data.get("content"), "content")
        private = content.get("cardPrivateData")
        params = private.get("params") if isinstance(private, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("action"), str) or not params["action"]:
            raise CallbackRejected(400, "card callback without content.cardPrivateData.params.action")
        return Event(platform=self.platform, kind="click", user_id=user_id, created_at=int(self._clock()),
                     key=params["action"], task_id=out_track_id, selected=_selected(params.get(CHECKLIST_COMPONENT)),
                     msg_id=message_id, raw=data)

    def robot_event(self, data: dict, *, message_id: str = "") -> Event:
        """Map a robot message to a text/image Event (one-to-one chats only), or raise CallbackRejected(400)."""
        if not isinstance(data, dict):
            raise CallbackRejected(400, "robot message is not a JSON object")
        msg_type, conversation = data.get("msgtype"), data.get("conversationType")
        if not isinstance(msg_type, str) or conversation is None:
            raise CallbackRejected(400, "robot message without msgtype or conversationType")
        try:
            created = int(data.get("createAt") or 0) // 1000
        except (TypeError, ValueError):
            raise CallbackRejected(400, "createAt is not an integer") from None
        common = {"platform": self.platform, "user_id": str(data.get("senderStaffId") or ""),
                  "created_at": created or int(self._clock()), "raw": data,
                  "msg_id": str(data.get("msgId") or message_id)}
        if str(conversation) != "1" or not common["user_id"]:
            log.info("dingtalk robot message ignored: conversationType=%s, from a member: %s",
                     conversation, bool(common["user_id"]))
            return Event(kind="unknown", **common)
        if msg_type == "text":
            text = data.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                raise CallbackRejected(400, "text message without text.content")
            return Event(kind="text", text=text["content"].strip(), **common)
        if msg_type == "picture":
            code = _json_field(data.get("content"), "content").get("downloadCode")
            if not isinstance(code, str) or not code:
                raise CallbackRejected(400, "picture message without content.downloadCode")
            return Event(kind="image", media_id=code, **common)
        if msg_type == "richText":
            return _rich_text(data, common)
        log.info("dingtalk robot message of unhandled type %s from %s", msg_type, common["user_id"])
        return Event(kind="unknown", **common)

    def http_callback(self, headers: Mapping, body: bytes, *, topic: str) -> Event:
        """Admit an HTTP-mode callback (sign verified, fresh, first use; our corp), then map it."""
        if topic not in (CARD_TOPIC, ROBOT_TOPIC):
            raise CallbackRejected(400, f"unknown callback topic {topic!r}")
        if len(body) > MAX_BODY:
            raise CallbackRejected(400, f"body of {len(body)} bytes exceeds {MAX_BODY}")
        (self._card_guard if topic == CARD_TOPIC else self._guard).admit(headers)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):   # UnicodeDecodeError is a ValueError
            raise CallbackRejected(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise CallbackRejected(400, "body is not a JSON object")
        if topic == CARD_TOPIC:
            self._vouched(data, "corpId", self.corp_id)
            return self.card_event(data)
        self._vouched(data, "chatbotCorpId", self.corp_id)
        if "robotCode" in data:
            self._vouched(data, "robotCode", self.robot_code)
        self._fresh_message(data)
        event = self.robot_event(data)
        self._guard.admit_message(event.msg_id)
        return event

    def register_card_callback(self, url: str) -> dict:
        """POST /v1.0/card/callbacks/register: route this app's card clicks (callback_route_key) to url.

        The request carries the apiSecret DingTalk then signs each card callback with; forceUpdate
        replaces an earlier registration of the key (a new public URL, a rotated AppSecret).
        """
        if not self.callback_route_key:
            raise PlatformError("no_route_key", "cards call back over Stream: there is nothing to register",
                                retryable=False)
        request = card_models.RegisterCallbackRequest(callback_route_key=self.callback_route_key, callback_url=url,
                                                      api_secret=self.card_api_secret, force_update=True)
        answer = self._api(lambda token: self.cards.register_callback_with_options(
            request, card_models.RegisterCallbackHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        if answer.get("success") is False:
            raise PlatformError("not_registered", f"callbacks/register answered {answer}", retryable=True)
        return answer

    def forget_message(self, event: Event) -> None:
        """Let an HTTP-mode robot message in again after its handling failed."""
        if event.msg_id:
            self._guard.forget_message(event.msg_id)

    @staticmethod
    def _vouched(data: dict, field: str, ours: str) -> None:
        """Refuse a body that names another corp or robot than ours in a field DingTalk fills in."""
        if data.get(field) != ours:
            raise SignRefused(403, "wrong_corp", f"{field} is not this app's")

    def _fresh_message(self, data: dict) -> None:
        """Refuse a robot message without a msgId or whose createAt is outside the window."""
        if not isinstance(data.get("msgId"), str) or not data["msgId"]:
            raise CallbackRejected(400, "robot message without msgId")
        created = data.get("createAt")
        if not isinstance(created, int) or abs(self._clock() - created / 1000) > self._guard.window:
            raise SignRefused(403, "message_stale", "createAt is missing or outside the replay window")

    def open_event(self, args: Mapping, body: bytes) -> tuple[dict, dict]:
        """Verify and decrypt a classic event subscription push; return (event, encrypted "success" reply)."""
        if self._crypto is None:
            raise CallbackRejected(403, "no event subscription is configured (event_aes_key is empty)")
        if len(body) > MAX_BODY:
            raise CallbackRejected(400, f"body of {len(body)} bytes exceeds {MAX_BODY}")
        sig = args.get("msg_signature") or args.get("signature") or ""
        ts = args.get("timestamp") or args.get("timeStamp") or ""
        nonce = args.get("nonce") or ""
        if not (sig and ts and nonce):
            raise CallbackRejected(403, "missing signature, timestamp or nonce")
        try:
            encrypt = json.loads(body).get("encrypt")
        except (ValueError, RecursionError, AttributeError):
            raise CallbackRejected(400, "body is not a JSON object") from None
        if not isinstance(encrypt, str) or not encrypt:
            raise CallbackRejected(400, "no encrypt field")
        plain = self._decrypt(sig, ts, nonce, encrypt)
        # The timestamp is covered by the signature, so it is checked after verification (ms on DingTalk).
        if not (ts.isascii() and ts.isdigit()):
            raise CallbackRejected(400, "timestamp is not an integer")
        seconds = int(ts) / 1000 if int(ts) > 10 ** 11 else int(ts)
        if abs(self._clock() - seconds) > self._window:
            raise CallbackRejected(403, "stale timestamp")
        try:
            event = json.loads(plain)
        except (ValueError, RecursionError):
            raise CallbackRejected(400, "decrypted event is not JSON") from None
        if not isinstance(event, dict):
            raise CallbackRejected(400, "decrypted event is not a JSON object")
        return event, self._crypto.encrypt_message("success", timestamp=int(self._clock() * 1000))

    # -- board check-in ----------------------------------------------------------------------------

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Return the login page that sends the browser back to redirect_uri with ?authCode=…&state=…."""
        query = urlencode({"redirect_uri": redirect_uri, "response_type": "code", "client_id": self.app_key,
                           "scope": "openid", "state": state, "prompt": "consent"})
        return f"{self.login_base}/oauth2/auth?{query}"

    def jsapi_config(self, page_url: str, apis: tuple[str, ...] = ("device.geolocation.get",)) -> dict:
        """Return what the page at page_url needs to load the JS-SDK and call apis (device.geolocation.get)."""
        ticket = self._tickets.get(self._fetch_ticket)
        nonce, timestamp, signature = jsapi.signed(ticket, page_url)
        # coordinate 1 asks for AutoNavi's (GCJ-02) position, which Android returns whatever is asked.
        return {"sdk": "dingtalk", "script": self.jssdk_url, "datum": "gcj02",
                "config": {"agentId": str(self.agent_id), "corpId": self.corp_id, "timeStamp": timestamp,
                           "nonceStr": nonce, "signature": signature, "type": 0,
                           "jsApiList": list(apis)}}

    def fetch_camera_photo(self, url: str) -> bytes:
        """Download a photo biz.util.uploadImageFromCamera put on DingTalk's CDN, from DingTalk's hosts only.

        The page hands the link over, so any other host is refused: the server must not fetch
        addresses a phone names (an intranet address, or a picture kept elsewhere).
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        cdn = (host in MEDIA_HOSTS or host.endswith(".alicdn.com")) and parts.netloc == host
        if parts.scheme not in ("http", "https") or not (
                cdn or parts.netloc == urlsplit(self.oapi.API_BASE_URL).netloc):
            raise PlatformError("bad_media_url", f"not a DingTalk media address: {host or url[:60]}", retryable=False)
        # Older answers name the CDN over http: fetched over https all the same.
        return self._download(parts._replace(scheme="https").geturl() if cdn else url, self.max_file_bytes)

    def _fetch_ticket(self) -> tuple[str, int]:
        result = self._oapi(lambda: self.oapi.get("get_jsapi_ticket"))
        if not result.get("ticket"):
            raise PlatformError("bad_answer", "get_jsapi_ticket answered without a ticket", retryable=True)
        return result["ticket"], int(result.get("expires_in") or jsapi.TICKET_SECONDS)

    def user_from_oauth_code(self, code: str) -> str:
        """Return the corp userid of whoever logged in; an outsider or a bad code raises not_member."""
        request = oauth2_models.GetUserTokenRequest(client_id=self.app_key, client_secret=self._secret, code=code,
                                                    grant_type="authorization_code")
        user_token = self._as_member(lambda: self.oauth2.get_user_token_with_options(request, {}, self._runtime)
                                     ).get("accessToken")
        if not user_token:
            raise PlatformError("not_member", "the code gave no user token", retryable=False)
        headers = contact_models.GetUserHeaders(x_acs_dingtalk_access_token=user_token)
        union_id = self._as_member(lambda: self.contact.get_user_with_options("me", headers, self._runtime)
                                   ).get("unionId")
        if not union_id:
            raise PlatformError("not_member", "the login has no unionId", retryable=False)
        try:
            result = self._oapi(lambda: self.oapi.post("topapi/user/getbyunionid", data={"unionid": union_id}))
        except PlatformError as exc:
            if exc.code == NOT_FOUND_USER:
                raise PlatformError("not_member", "the login belongs to someone outside the corp",
                                    retryable=False) from exc
            raise
        user_id = (result.get("result") or {}).get("userid")
        if not user_id:
            raise PlatformError("not_member", "the login belongs to someone outside the corp", retryable=False)
        return user_id

    # -- plumbing ----------------------------------------------------------------------------------

    def _decrypt(self, sig: str, ts: str, nonce: str, encrypt: str) -> str:
        try:
            return self._crypto.decrypt_encrypt_str(sig, ts, nonce, encrypt)
        except InvalidSignatureException:
            raise CallbackRejected(403, "bad signature") from None
        except InvalidCorpIdOrSuiteKeyException:
            raise CallbackRejected(403, "encrypted for another app") from None
        except (ValueError, TypeError, IndexError, struct.error, UnicodeDecodeError) as exc:
            raise CallbackRejected(400, f"cannot decrypt: {type(exc).__name__}") from None

    def send_group(self, open_conversation_id: str, text: str) -> None:
        """Post text as markdown into the group the robot is in (POST /v1.0/robot/groupMessages/send)."""
        request = robot_models.OrgGroupSendRequest(
            robot_code=self.robot_code, open_conversation_id=open_conversation_id, msg_key="sampleMarkdown",
            msg_param=json.dumps({"title": text.splitlines()[0][:20] if text else "通知", "text": text},
                                 ensure_ascii=False))
        answer = self._api(lambda token: self.robot.org_group_send_with_options(
            request, robot_models.OrgGroupSendHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        if not answer.get("processQueryKey"):
            raise PlatformError("bad_answer", "groupMessages/send answered no processQueryKey", retryable=True)

    def _batch_send(self, user_id: str, msg_key: str, param: dict) -> None:
        request = robot_models.BatchSendOTORequest(robot_code=self.robot_code, user_ids=[user_id], msg_key=msg_key,
                                                   msg_param=json.dumps(param, ensure_ascii=False))
        answer = self._api(lambda token: self.robot.batch_send_otowith_options(
            request, robot_models.BatchSendOTOHeaders(x_acs_dingtalk_access_token=token), self._runtime))
        if user_id in (answer.get("invalidStaffIdList") or []):
            raise PlatformError("invalid_user", f"{user_id} cannot be reached by the robot", retryable=False)
        if user_id in (answer.get("filteredStaffIdList") or []):
            # Answered 200, yet nothing reached them: they have not authorised the app, or left it.
            log.warning("dingtalk batchSend: %s was filtered (not authorised or left); message not delivered",
                        user_id)
            raise PlatformError("filtered", f"{user_id} 被钉钉过滤（未授权该应用或已离职），消息未送达",
                                retryable=False)
        if user_id in (answer.get("flowControlledStaffIdList") or []):
            raise RateLimited(FLOW_CONTROL_WAIT, f"{user_id} is flow-controlled; retry in {FLOW_CONTROL_WAIT:.0f} s")

    def _fetch_api_token(self) -> tuple[str, int]:
        """POST /v1.0/oauth2/accessToken {appKey, appSecret}."""
        request = oauth2_models.GetAccessTokenRequest(app_key=self.app_key, app_secret=self._secret)
        try:
            answer = _body(self.oauth2.get_access_token_with_options(request, {}, self._runtime))
        except TeaException as exc:
            raise _tea_error(exc) from exc
        if not answer.get("accessToken"):
            raise PlatformError("bad_answer", "accessToken answered without an accessToken", retryable=True)
        return answer["accessToken"], int(answer.get("expireIn") or 7200)

    def _api(self, call: Callable[[str], object]) -> dict:
        """Run one new-API call with the app token, refreshing it at most once; return the body."""
        refreshed, stale = False, None
        while True:
            if stale is None:
                token = self._api_tokens.get(self._fetch_api_token)
            else:
                token, stale = self._api_tokens.refresh(self._fetch_api_token, stale=stale), None
            try:
                return _body(call(token))
            except TeaException as exc:
                if _tea_code(exc) == API_TOKEN_ERROR and not refreshed:
                    refreshed, stale = True, token
                    log.info("dingtalk api token rejected; refreshing once")
                    continue
                raise _tea_error(exc) from exc

    def _as_member(self, call: Callable[[], object]) -> dict:
        """Run one OAuth call; a refusal (4xx) means the code or login is not good for this corp."""
        try:
            return _body(call())
        except TeaException as exc:
            error = _tea_error(exc)
            if error.retryable:
                raise error from exc
            raise PlatformError("not_member", f"login refused: {error.message}", retryable=False) from exc

    def _oapi(self, request: Callable[[], object]) -> dict:
        """Run one classic-oapi call, refreshing the token at most once."""
        refreshed, stale = False, None
        while True:
            try:
                if stale is not None:   # inside the try: a failing gettoken is mapped like any other call
                    self._oapi_tokens.refresh(self.oapi.fetch_access_token, stale=stale)
                    stale = None
                result = request()
                if not isinstance(result, dict):   # the SDK hands back the raw Response when it is not JSON
                    raise PlatformError("bad_answer", "the oapi answered something other than JSON", retryable=True)
                return result
            except DingTalkClientException as exc:
                if exc.errcode in OAPI_TOKEN_ERRORS and not refreshed:
                    refreshed, stale = True, _token_in(exc) or self._oapi_tokens.peek() or ""
                    log.info("dingtalk oapi token rejected (%s); refreshing once", exc.errcode)
                    continue
                raise _oapi_error(exc) from exc
            except requests.RequestException as exc:
                raise PlatformError("http", f"{type(exc).__name__}: {exc}", retryable=True) from exc

    def _download(self, url: str, limit: int) -> bytes:
        try:
            with self._http.get(url, timeout=self._timeout, stream=True) as res:
                if res.status_code >= 400:
                    raise PlatformError("http", f"download answered HTTP {res.status_code}",
                                        retryable=res.status_code >= 500 or res.status_code == 429)
                data = bytearray()
                for chunk in res.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise PlatformError("media_too_large", f"the file exceeds {limit} bytes", retryable=False)
                return bytes(data)
        except requests.RequestException as exc:
            raise PlatformError("http", f"{type(exc).__name__}: {exc}", retryable=True) from exc


# -- helpers ---------------------------------------------------------------------------------------

def _tea_config(api_base: str, timeout: float) -> open_api_models.Config:
    """Point the Tea clients at api_base (scheme and host:port; a path prefix is not supported)."""
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ValueError(f"api_base must be scheme://host[:port], not {api_base!r}")
    ms = int(timeout * 1000)
    return open_api_models.Config(protocol=parts.scheme, endpoint=parts.netloc, read_timeout=ms, connect_timeout=ms)


def _without_private_data(request):
    """Drop the empty privateData that Tea's from_map adds: the card is the same for everyone."""
    request.private_data = None
    return request


def _body(response) -> dict:
    body = getattr(response, "body", None)
    return body.to_map() if body is not None else {}


def _json_field(value, name: str) -> dict:
    """Return a field that DingTalk sends as a JSON string inside the JSON (or, tolerated, as an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise CallbackRejected(400, f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise CallbackRejected(400, f"{name} is not a JSON object")
    return value


def _rich_text(data: dict, common: dict) -> Event:
    """Map a richText message (a photo sent with a caption): the photo with its caption as text.

    content.richText lists {"text": …} items and {"type": "picture", "downloadCode": …} items.
    """
    items = _json_field(data.get("content"), "content").get("richText")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise CallbackRejected(400, "richText message without a content.richText list")
    caption = "".join(i["text"] for i in items if isinstance(i.get("text"), str)).strip()
    codes = [i.get("downloadCode") for i in items if i.get("type") == "picture"]
    if any(not isinstance(c, str) or not c for c in codes):
        raise CallbackRejected(400, "richText picture without downloadCode")
    if codes:
        return Event(kind="image", media_id=codes[0], text=caption, **common)
    if not caption:
        raise CallbackRejected(400, "richText message with neither text nor picture")
    return Event(kind="text", text=caption, **common)


def _selected(value) -> tuple[str, ...]:
    """Parse the multi-select component's params: {"index": [positions of the ticked options]} or absent.

    DingTalk reports which options were ticked by position, not by id; the card lists its options in
    order, so position i is option_id(i).
    """
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise CallbackRejected(400, f"params.{CHECKLIST_COMPONENT} is not JSON") from None
    index = value.get("index") if isinstance(value, dict) else None
    if index is None:
        return ()
    if (not isinstance(index, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_OPTIONS for i in index)):
        raise CallbackRejected(400, f"params.{CHECKLIST_COMPONENT}.index is not a list of option positions")
    return tuple(option_id(i) for i in sorted(set(index)))


def _tea_code(exc: TeaException) -> str:
    return str(getattr(exc, "code", "") or "")


def _tea_status(exc: TeaException) -> int:
    data = getattr(exc, "data", None)
    status = data.get("statusCode") if isinstance(data, dict) else None
    return int(status) if isinstance(status, int) else 0


def _tea_error(exc: TeaException) -> PlatformError:
    """Map a Tea exception: 429/Throttling/5xx and no answer at all are retryable, other 4xx are not."""
    code, status = _tea_code(exc), _tea_status(exc)
    data = getattr(exc, "data", None)
    message = str(data.get("message") or "") if isinstance(data, dict) else ""
    if code in QPS_LIMIT_CODES:
        return RateLimited(QPS_LIMIT_WAIT, f"HTTP {status} {code}: flow-controlled, retry in {QPS_LIMIT_WAIT:.0f} s")
    if not status:   # no HTTP answer, or one that was not JSON: network trouble or a proxy's error page
        inner = getattr(exc, "inner_exception", None) or exc
        return PlatformError("http", f"{type(inner).__name__}: {str(inner)[:200]}", retryable=True)
    retryable = (status == 429 or status >= 500 or "throttl" in code.lower() or "qps" in code.lower()
                 or code == API_TOKEN_ERROR)   # a token error after the one refresh: a later try may pass
    return PlatformError(code or status, f"HTTP {status}: {message or code}", retryable=retryable)


def _says_card_exists(exc: PlatformError) -> bool:
    """Tell whether createAndDeliver refused an outTrackId that is already in use (by its documented code)."""
    return not exc.retryable and exc.code in CARD_EXISTS_CODES


def _names_used_track_id(text: str) -> bool:
    """Guess from a deliverResults errorMsg (free text, no code) whether it names a used outTrackId."""
    text = text.lower()
    if "outtrackid" not in text or "notexist" in text or "not exist" in text:
        return False
    return any(word in text for word in ("exist", "dup", "repeat", "already"))


def _delivered(user_id: str, answer: dict, results) -> dict:
    """Return the person's successful deliver result, or raise what its failure means."""
    results = [r for r in results or [] if isinstance(r, dict)]
    for outcome in results:
        if not outcome.get("success"):
            raise _deliver_error(user_id, str(outcome.get("errorMsg") or ""))
    if answer.get("success") is False or not results:
        raise PlatformError("not_delivered", f"the card reached nobody: {answer}", retryable=False)
    return results[0]


def _deliver_error(user_id: str, message: str) -> PlatformError:
    """Map a failed deliverResults entry: flow control passes with time, anything else will not."""
    lowered = message.lower()
    if any(w in lowered for w in ("flow", "limit", "throttl", "限流", "频率", "too many")):
        return RateLimited(FLOW_CONTROL_WAIT, f"card to {user_id} flow-controlled: {message}")
    if _names_used_track_id(message):
        return PlatformError("card_exists", message, retryable=False)
    return PlatformError("not_delivered", f"card to {user_id} not delivered: {message}", retryable=False)


def _token_in(exc: DingTalkClientException) -> str | None:
    """Return the access_token the failed request carried, so we refresh only if nobody else has."""
    url = getattr(exc.request, "url", None) or ""
    return (parse_qs(urlsplit(url).query).get("access_token") or [None])[0]


def _oapi_error(exc: DingTalkClientException) -> PlatformError:
    code, message = exc.errcode, str(exc.errmsg or "")
    if code is None:   # an HTTP status failure: a 5xx may pass, a 4xx will not
        status = getattr(exc.response, "status_code", 0) or 0
        return PlatformError("http", message or f"HTTP {status}", retryable=status >= 500 or status == 429)
    retryable = code in OAPI_THROTTLED or code in OAPI_TOKEN_ERRORS or code == -1
    return PlatformError(int(code), message, retryable=retryable)
