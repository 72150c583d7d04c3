"""The DingTalk sandbox's memory: members, both kinds of token, card instances, chats, media and OAuth codes.

Also the two error shapes (classic oapi: HTTP 200 {"errcode"}; new API: HTTP 4xx {"code","message",
"requestid"}) and the checks of docs/dingtalk.md's card template (`permit-card`).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import secrets
import threading
from collections import Counter, defaultdict

from sandbox.dingtalk_faults import DingFaults

TOKEN_TTL = 7200
AUTH_CODE_TTL = 300
MEDIA_MAX = 20 << 20
CHECKLIST_COMPONENT = "checklist"   # the card template's multi-select component id
KINDS = ("sign", "checklist", "notice", "stop", "outcome", "alarm", "progress")
LIST_KEYS = {"fields": ("name", "value"), "buttons": ("id", "text"), "checklist": ("id", "text"),
             "links": ("title", "url")}
BUTTON_STYLES = ("primary", "danger", "normal")
TEXT_KEYS = ("kind", "title", "subtitle", "notice", "emphasis", "checklist_key", "url", "status")
SPACE_PREFIX = "dtv1.card//"
FLOW_CONTROL_MSG = "flow control: too many messages to this user, try again later"


class OapiError(Exception):
    """A refusal of the classic oapi: HTTP 200 with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg

    def body(self) -> dict:
        """Return the JSON body the oapi would answer with."""
        return {"errcode": self.errcode, "errmsg": self.errmsg}


class AcsError(Exception):
    """A refusal of the new API (api.dingtalk.com): an HTTP 4xx/5xx status with {code, message, requestid}."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        """Return the JSON body the new API would answer with."""
        return {"code": self.code, "message": self.message, "requestid": secrets.token_hex(16).upper()}


class ClickRefused(Exception):
    """An action a real DingTalk client could not perform (unknown member, card or button): 400."""


def bad_token() -> AcsError:
    return AcsError(401, "InvalidAuthentication", "不合法的access_token")


# -- the card template --------------------------------------------------------------------------------
def check_param_map(params, where: str = "cardData.cardParamMap") -> dict:
    """Refuse a cardParamMap that is not an object of strings (the platform stores strings only)."""
    if not isinstance(params, dict):
        raise AcsError(400, "param.cardParamMapInvalid", f"{where} must be an object")
    for key, value in params.items():
        if not isinstance(value, str):
            raise AcsError(400, "param.cardParamMapInvalid",
                           f"{where}.{key} must be a string (JSON-encode lists), got {type(value).__name__}")
    return params


def decode_card(params: dict) -> dict:
    """Check a full cardParamMap against the permit-card template; return it decoded (lists as lists)."""
    card = {key: params.get(key, "") for key in TEXT_KEYS}
    if card["kind"] not in KINDS:
        raise AcsError(400, "param.cardParamMapInvalid", f"kind must be one of {', '.join(KINDS)}")
    if not card["title"].strip():
        raise AcsError(400, "param.cardParamMapInvalid", "title must not be empty")
    card["status"] = card["status"] or "open"
    if card["status"] not in ("open", "settled"):
        raise AcsError(400, "param.cardParamMapInvalid", "status must be open or settled")
    if params.get("urgent", "") not in ("", "true", "false"):
        raise AcsError(400, "param.cardParamMapInvalid", 'urgent must be "true", "false" or ""')
    card["urgent"] = params.get("urgent") == "true"
    for key, needed in LIST_KEYS.items():
        card[key] = _decode_list(key, params.get(key, ""), needed)
    for button in card["buttons"]:
        if button.get("style", "normal") not in BUTTON_STYLES:
            raise AcsError(400, "param.cardParamMapInvalid", f"buttons: style must be one of {BUTTON_STYLES}")
    ids = [b["id"] for b in card["buttons"]]
    if len(set(ids)) != len(ids):
        raise AcsError(400, "param.cardParamMapInvalid", "buttons: ids must be unique")
    return card


def _decode_list(key: str, raw: str, needed: tuple[str, ...]) -> list[dict]:
    if raw == "":
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise AcsError(400, "param.cardParamMapInvalid", f"{key} must be a JSON-encoded list") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AcsError(400, "param.cardParamMapInvalid", f"{key} must be a JSON-encoded list of objects")
    for item in items:
        missing = [k for k in needed if not isinstance(item.get(k), str)]
        if missing:
            raise AcsError(400, "param.cardParamMapInvalid", f"{key}: every item needs string {', '.join(needed)}")
    return items


def is_interactive(card: dict) -> bool:
    return card["status"] != "settled" and bool(card["buttons"] or card["checklist"])


class DingtalkState:
    """Everything one sandboxed DingTalk app knows; every method takes the lock itself."""

    def __init__(self, *, app_key, app_secret, corp_id, robot_code, card_template_id, users, names, now):
        self.app_key, self.app_secret, self.corp_id = app_key, app_secret, corp_id
        self.robot_code, self.card_template_id = robot_code, card_template_id
        self.now = now
        self.lock = threading.RLock()
        self.faults = DingFaults()
        self.stats: Counter = Counter()
        self.users: list[str] = []
        self.filtered: set[str] = set()
        self.card_routes: dict[str, dict] = {}   # callbackRouteKey -> {callbackUrl, apiSecret}   # members the robot may not message (not authorised, or left)
        self.names: dict[str, str] = {}
        self.set_users(users, names or {})
        self.tokens: dict[str, dict] = {}        # token -> {kind: classic|new|user, expires_at, revoked, user}
        self.cards: dict[str, dict] = {}         # outTrackId -> the instance
        self.chats: dict[str, list] = defaultdict(list)
        self.media: dict[str, dict] = {}         # media_id or downloadCode -> the bytes and their name
        self.auth_codes: dict[str, dict] = {}
        self.config = {"card_callback_url": None, "event_url": None, "event_token": None, "event_aes_key": None}
        # Each robot's 消息接收模式 (stream or http) and 消息接收地址, set on the robot in the developer
        # console: a member's message goes the way its robot is set when it is sent (docs/dingtalk.md).
        self.robots: dict[str, dict] = {robot_code: {"mode": "stream", "url": None}}
        self.gateway = None                      # the Stream gateway, started by the first connections/open
        self.last_callback_ms = 0                # HTTP mode: the last callback's timestamp header
        self.gateway_settings = {"ack_timeout": 5.0, "retry_delay": 1.0, "ping_interval": 60.0}
        self._seq = itertools.count(1)

    # -- members, tokens --------------------------------------------------------------------------
    def set_users(self, users, names: dict | None = None) -> None:
        """Replace the organisation's members (and, if given, their display names)."""
        with self.lock:
            self.users = [str(u) for u in users]
            if names is not None:
                self.names = {k: v for k, v in names.items() if k in self.users}

    def member(self, userid) -> str | None:
        """Return userid if it is a member (DingTalk user ids are case-sensitive), else None."""
        return userid if isinstance(userid, str) and userid in self.users else None

    def union_id(self, user: str) -> str:
        """Return the stable unionId the platform gives user."""
        return "u" + hashlib.sha256(f"{self.corp_id}:{user}".encode()).hexdigest()[:22]

    def issue(self, kind: str, *, user: str | None = None) -> tuple[str, int]:
        """Issue an app token of kind (the same one while it lives) or a fresh user token; return it and its life."""
        with self.lock:
            now = self.now()
            if kind != "user":
                for tok, rec in self.tokens.items():
                    if rec["kind"] == kind and not rec["revoked"] and rec["expires_at"] > now:
                        return tok, int(rec["expires_at"] - now)
            tok = secrets.token_hex(16)
            self.tokens[tok] = {"kind": kind, "expires_at": now + TOKEN_TTL, "revoked": False, "user": user}
            return tok, TOKEN_TTL

    def check_classic(self, tok: str | None) -> None:
        """Refuse a missing or unknown (40014), expired or revoked (42001) oapi token."""
        with self.lock:
            rec = self.tokens.get(tok or "")
            if rec is None or rec["kind"] != "classic":
                raise OapiError(40014, "不合法的access_token")
            if rec["revoked"] or rec["expires_at"] <= self.now():
                raise OapiError(42001, "access_token超时")

    def check_new(self, tok: str | None, kind: str = "new") -> dict:
        """Refuse a missing, unknown, expired or revoked new-API token with 401 InvalidAuthentication."""
        with self.lock:
            rec = self.tokens.get(tok or "")
            if rec is None or rec["kind"] != kind or rec["revoked"] or rec["expires_at"] <= self.now():
                raise bad_token()
            return rec

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (the platform may do so at any time)."""
        with self.lock:
            for rec in self.tokens.values():
                rec["revoked"] = True

    # -- OAuth ------------------------------------------------------------------------------------
    def mint_auth_code(self, userid: str) -> str:
        """Mint a single-use authCode for userid, as the OAuth page appends to its redirect."""
        code = secrets.token_hex(16)
        with self.lock:
            self.auth_codes[code] = {"userid": userid, "expires_at": self.now() + AUTH_CODE_TTL}
        return code

    def user_token(self, body: dict) -> dict:
        """Answer oauth2/userAccessToken: a single-use authCode becomes a user token."""
        if body.get("clientId") != self.app_key or body.get("clientSecret") != self.app_secret:
            raise AcsError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        if body.get("grantType") != "authorization_code":
            raise AcsError(400, "invalidParameter.grantType", "grantType must be authorization_code")
        with self.lock:
            rec = self.auth_codes.pop(body.get("code") or "", None)
            if rec is None or rec["expires_at"] <= self.now():
                raise AcsError(400, "invalidAuthCode", "authCode is invalid, used or expired")
        tok, life = self.issue("user", user=rec["userid"])
        return {"accessToken": tok, "refreshToken": secrets.token_hex(16), "expireIn": life,
                "corpId": self.corp_id}

    def me(self, tok: str | None) -> dict:
        """Answer contact/users/me for a user token."""
        user = self.check_new(tok, kind="user")["user"]
        return {"unionId": self.union_id(user), "openId": "o" + self.union_id(user)[1:],
                "nick": self.names.get(user, user), "stateCode": "86"}

    def by_union_id(self, union_id) -> dict:
        """Answer topapi/user/getbyunionid."""
        for user in self.users:
            if self.union_id(user) == union_id:
                return {"errcode": 0, "errmsg": "ok", "result": {"contact_type": 0, "userid": user},
                        "request_id": secrets.token_hex(8)}
        raise OapiError(60121, "找不到该用户")

    # -- media ------------------------------------------------------------------------------------
    def store_media(self, kind: str, filename: str, ctype: str, data: bytes) -> str:
        """Keep uploaded bytes under a fresh id (a media_id or a downloadCode)."""
        key = ("@lA" if kind != "download" else "dc") + secrets.token_urlsafe(24)
        with self.lock:
            self.media[key] = {"kind": kind, "filename": filename, "content_type": ctype, "data": data,
                               "created_at": self.now()}
        return key

    def upload(self, mtype: str | None, filename: str, ctype: str, data: bytes | None) -> dict:
        """Answer media/upload."""
        if mtype not in ("image", "voice", "file", "video"):
            raise OapiError(40005, "不合法的文件类型")
        if not data:
            raise OapiError(41006, "media数据为空")
        if len(data) > MEDIA_MAX:  # 40004 is the oapi's "不合法的媒体文件类型" family; the sandbox uses it for size
            raise OapiError(40004, f"文件大小超过限制（{MEDIA_MAX >> 20} MB）")
        media_id = self.store_media(mtype, filename, ctype, data)
        return {"errcode": 0, "errmsg": "ok", "type": mtype, "media_id": media_id,
                "created_at": int(self.now() * 1000)}

    # -- cards ------------------------------------------------------------------------------------
    def create_and_deliver(self, body: dict) -> dict:
        """Check and deliver one createAndDeliver call; return the platform's answer."""
        track, params = self._check_create(body)
        users = self._space_users(body.get("openSpaceId"))
        card = decode_card(params)
        with self.lock:
            if track in self.cards:
                # DingTalk's documented answer (创建卡片 error table): the code is also the message.
                raise AcsError(400, "param.cardAlreadyExist", "param.cardAlreadyExist")
            now = self.now()
            self.cards[track] = {"outTrackId": track, "params": dict(params), "recipients": [], "private": {},
                                 "callbackType": body["callbackType"], "created_at": now,
                                 "callbackRouteKey": body.get("callbackRouteKey")}
            results = [self._deliver_card(track, user, card, now) for user in users]
            return {"success": True, "result": {"outTrackId": track, "deliverResults": results}}

    def register_callback(self, body: dict) -> dict:
        """Answer POST /v1.0/card/callbacks/register: map a callbackRouteKey to a URL (and its apiSecret)."""
        if not isinstance(body, dict) or not body:
            raise AcsError(400, "param.empty", "param.empty")
        key, url = body.get("callbackRouteKey"), body.get("callbackUrl")
        if not isinstance(key, str) or not key:
            raise AcsError(400, "param.callbackRouteKeyEmpty", "param.callbackRouteKeyEmpty")
        if not isinstance(url, str) or not url:
            raise AcsError(400, "param.callbackUrlEmpty", "param.callbackUrlEmpty")
        secret = body.get("apiSecret")
        entry = {"callbackUrl": url, "apiSecret": secret if isinstance(secret, str) and secret else None}
        with self.lock:
            known = self.card_routes.get(key)
            # Without forceUpdate an existing key is not overwritten (the harsher of the guide's two readings).
            if known is not None and known != entry and body.get("forceUpdate") is not True:
                raise AcsError(500, "param.callbackRouteKeyExist", "param.callbackRouteKeyExist")
            self.card_routes[key] = entry
        return {"success": True, "result": {"callbackUrl": url, "apiSecret": entry["apiSecret"]}}

    def card_callback_type(self, track: str) -> str | None:
        """Return the callbackType the card was created with."""
        with self.lock:
            card = self.cards.get(track)
            return card["callbackType"] if card else None

    def card_route(self, track: str) -> dict | None:
        """Return the registration ({callbackUrl, apiSecret}) of the card's callbackRouteKey, if any."""
        with self.lock:
            card = self.cards.get(track) or {}
            route = self.card_routes.get(card.get("callbackRouteKey") or "")
            return dict(route) if route else None

    def deliver(self, body: dict) -> dict:
        """Answer POST /v1.0/card/instances/deliver: put a card created earlier into more chats."""
        track = body.get("outTrackId")
        model = body.get("imRobotOpenDeliverModel")
        if not isinstance(model, dict) or model.get("spaceType") != "IM_ROBOT":
            raise AcsError(400, "param.imRobotOpenDeliverModelInvalid", "imRobotOpenDeliverModel.spaceType must be IM_ROBOT")
        if model.get("robotCode") != self.robot_code:
            raise AcsError(400, "param.robotCodeInvalid", "imRobotOpenDeliverModel.robotCode is not this app's robot")
        users = self._space_users(body.get("openSpaceId"))
        with self.lock:
            if track not in self.cards:
                raise AcsError(400, "param.outTrackIdNotExist", f"no card instance with outTrackId {track}")
            instance, now = self.cards[track], self.now()
            card = decode_card(instance["params"])
            # A person who has the card already keeps the one copy (the sandbox's choice: success, no second card).
            results = [{"spaceType": "IM_ROBOT", "spaceId": user, "success": True} if user in instance["recipients"]
                       else self._deliver_card(track, user, card, now) for user in users]
            return {"success": True, "result": results}

    def _check_create(self, body: dict) -> tuple[str, dict]:
        if body.get("cardTemplateId") != self.card_template_id:
            raise AcsError(400, "param.cardTemplateIdInvalid",
                           f"cardTemplateId must be the app's template {self.card_template_id}")
        track = body.get("outTrackId")
        if not isinstance(track, str) or not 1 <= len(track) <= 128:
            raise AcsError(400, "param.outTrackIdInvalid", "outTrackId must be 1-128 characters")
        params = check_param_map((body.get("cardData") or {}).get("cardParamMap"))
        model = body.get("imRobotOpenDeliverModel")
        if not isinstance(model, dict) or model.get("spaceType") != "IM_ROBOT":
            raise AcsError(400, "param.imRobotOpenDeliverModelInvalid", "imRobotOpenDeliverModel.spaceType must be IM_ROBOT")
        if model.get("robotCode") != self.robot_code:
            raise AcsError(400, "param.robotCodeInvalid", "imRobotOpenDeliverModel.robotCode is not this app's robot")
        if body.get("callbackType") not in ("STREAM", "HTTP"):
            raise AcsError(400, "param.callbackTypeInvalid", "callbackType must be STREAM or HTTP")
        if body["callbackType"] == "HTTP" and not body.get("callbackRouteKey"):
            raise AcsError(400, "param.callbackRouteKeyInvalid", "callbackType HTTP needs callbackRouteKey")
        if body.get("userIdType", 1) != 1:
            raise AcsError(400, "param.userIdTypeInvalid", "userIdType must be 1 (userid)")
        return track, params

    @staticmethod
    def _space_users(space) -> list[str]:
        if not isinstance(space, str) or not space.startswith(SPACE_PREFIX):
            raise AcsError(400, "param.openSpaceIdInvalid", f"openSpaceId must look like {SPACE_PREFIX}IM_ROBOT.<userId>")
        users = []
        for part in space[len(SPACE_PREFIX):].split(";"):
            kind, _, user = part.partition(".")
            if kind != "IM_ROBOT" or not user:
                raise AcsError(400, "param.openSpaceIdInvalid", "the sandbox serves IM_ROBOT.<userId> spaces only")
            users.append(user)
        return users

    def _deliver_card(self, track: str, user: str, card: dict, now: float) -> dict:
        result = {"spaceType": "IM_ROBOT", "spaceId": user, "success": False}
        if self.member(user) is None:
            return {**result, "errorMsg": f"user not found: {user}"}
        if self.faults.flow_controlled(user, now):  # [unverified] the sandbox's choice of how this shows
            return {**result, "errorMsg": FLOW_CONTROL_MSG}
        carrier = secrets.token_hex(12)
        self.cards[track]["recipients"].append(user)
        self.chats[user].append({
            "seq": next(self._seq), "direction": "to_user", "user": user, "msgid": carrier,
            "msgtype": "interactive_card", "sent_at": now, "task_id": track,
            "content": {"cardTemplateId": self.card_template_id, "outTrackId": track,
                        "cardParamMap": dict(self.cards[track]["params"])},
            "state": {"card": card, "interactive": is_interactive(card), "updated_at": None},
            "clicks": [], "updates": []})
        return {**result, "success": True, "carrierId": carrier}

    def update_card(self, body: dict, *, via: str = "api") -> dict:
        """Answer PUT /v1.0/card/instances: merge or replace the public data; the cards change in place."""
        track = body.get("outTrackId")
        with self.lock:
            if track not in self.cards:
                raise AcsError(400, "param.outTrackIdNotExist", f"outTrackId {track} does not exist")
            self.apply_card_change(track, body, via=via)
        return {"success": True, "result": True}

    def apply_card_change(self, track: str, change: dict, *, via: str, user: str | None = None) -> str:
        """Apply cardData/privateData/userPrivateData with cardUpdateOptions to an instance; say what changed."""
        options = change.get("cardUpdateOptions") or {}
        instance, done = self.cards[track], []
        params = dict(instance["params"])
        if change.get("cardData") is not None:
            new = check_param_map((change.get("cardData") or {}).get("cardParamMap") or {})
            params = {**params, **new} if options.get("updateCardDataByKey") else dict(new)
            done.append("cardData")
        private = copy.deepcopy(instance["private"])
        targets = dict(change.get("privateData") or {})
        if user and change.get("userPrivateData") is not None:
            targets[user] = change["userPrivateData"]
        for who, data in targets.items():
            new = check_param_map((data or {}).get("cardParamMap") or {}, f"privateData.{who}.cardParamMap")
            private[who] = {**private.get(who, {}), **new} if options.get("updatePrivateDataByKey") else dict(new)
            done.append(f"privateData.{who}")
        decode_card(params)  # the public data alone must still be a valid card
        views = {u: decode_card({**params, **private.get(u, {})}) for u in instance["recipients"]}
        instance.update(params=params, private=private)
        now = self.now()
        for u, card in views.items():
            for entry in self.chats[u]:
                if entry.get("task_id") == track and entry["direction"] == "to_user":
                    entry["state"].update(card=card, interactive=is_interactive(card), updated_at=now)
                    entry["updates"].append({"at": now, "via": via, **copy.deepcopy(
                        {k: change[k] for k in ("cardData", "privateData", "userPrivateData", "cardUpdateOptions")
                         if k in change})})
        return "updated " + ", ".join(done) if done else "nothing to update"

    # -- robot messages ---------------------------------------------------------------------------
    def batch_send(self, body: dict) -> dict:
        """Answer robot/oToMessages/batchSend; flow-controlled people are listed and not reached."""
        if body.get("robotCode") != self.robot_code:
            raise AcsError(400, "invalidParameter.robotCode", "robotCode is not this app's robot")
        users = body.get("userIds")
        if not isinstance(users, list) or not 1 <= len(users) <= 20 or not all(isinstance(u, str) for u in users):
            raise AcsError(400, "invalidParameter.userIds", "userIds must list 1-20 user ids")
        msgtype, content = self._robot_message(body.get("msgKey"), body.get("msgParam"))
        invalid, limited, filtered = [], [], []
        with self.lock:
            now = self.now()
            for user in users:
                if self.member(user) is None:
                    invalid.append(user)
                elif user in self.filtered:
                    # A member who has not authorised the robot's app (or left it, or blocked it) is
                    # listed as filtered and gets nothing; trying again later changes nothing.
                    filtered.append(user)
                elif self.faults.flow_controlled(user, now):
                    limited.append(user)
                else:
                    self.chats[user].append({"seq": next(self._seq), "direction": "to_user", "user": user,
                                             "msgid": secrets.token_hex(12), "msgtype": msgtype, "sent_at": now,
                                             "task_id": None, "content": dict(content), "msgKey": body["msgKey"]})
        return {"processQueryKey": secrets.token_urlsafe(24), "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": limited, "filteredStaffIdList": filtered}

    def _robot_message(self, key, raw) -> tuple[str, dict]:
        needs = {"sampleText": ("text", ("content",)), "sampleMarkdown": ("markdown", ("title", "text")),
                 "sampleFile": ("file", ("mediaId", "fileName", "fileType")),
                 "sampleImageMsg": ("image", ("photoURL",))}
        if key not in needs:
            raise AcsError(400, "invalidParameter.msgKey", f"msgKey must be one of {', '.join(needs)}")
        try:
            param = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            param = None
        msgtype, keys = needs[key]
        if not isinstance(param, dict) or not all(isinstance(param.get(k), str) and param[k] for k in keys):
            raise AcsError(400, "invalidParameter.msgParam", f"msgParam must be a JSON string with {', '.join(keys)}")
        if msgtype == "text":
            return msgtype, {"content": param["content"]}
        if msgtype == "markdown":
            return msgtype, {"title": param["title"], "text": param["text"]}
        if msgtype == "file":
            if param["mediaId"] not in self.media:
                raise AcsError(400, "invalidParameter.msgParam", "msgParam.mediaId is not an uploaded media_id")
            return msgtype, {"media_id": param["mediaId"], "file_name": param["fileName"],
                             "file_type": param["fileType"]}
        return msgtype, {"photo_url": param["photoURL"]}

    # -- clicks and messages from users -----------------------------------------------------------
    def prepare_click(self, userid, track, key, selected) -> dict:
        """Check a click a real client could make; return the card callback's data."""
        with self.lock:
            user = self.member(userid)
            if user is None:
                raise ClickRefused(f"{userid!r} is not a member")
            entry = next((e for e in reversed(self.chats[user]) if e.get("task_id") == track
                          and e["msgtype"] == "interactive_card"), None)
            if entry is None:
                raise ClickRefused(f"{user} never received a card with outTrackId {track}")
            card = entry["state"]["card"]
            if not entry["state"]["interactive"]:
                raise ClickRefused(f"card {track} is no longer clickable for {user}")
            if key not in [b["id"] for b in card["buttons"]]:
                raise ClickRefused(f"card {track} has no button {key!r}")
            options = [o["id"] for o in card["checklist"]]
            if any(o not in options for o in selected):
                raise ClickRefused(f"card {track} has no checklist option among {selected}")
            entry["clicks"].append({"at": self.now(), "key": key, "selected": list(selected)})
            # A multi-select component reports the positions of the ticked options under its own
            # component id (the template's is "checklist"), never their ids.
            params = {"action": key}
            if card["checklist"]:
                params[CHECKLIST_COMPONENT] = {"index": sorted(options.index(o) for o in set(selected))}
            content = {"cardPrivateData": {"actionIds": [key], "params": params}}
            return {"outTrackId": track, "corpId": self.corp_id, "userId": user, "type": "actionCallback",
                    "spaceType": "IM_ROBOT", "spaceId": user, "userIdType": 1,
                    "content": json.dumps(content, ensure_ascii=False), "extension": "{}"}

    def robot_setting(self, robot_code: str) -> dict:
        """Return a copy of the robot's receiving setting ({mode, url}), or raise ClickRefused if no such robot."""
        with self.lock:
            setting = self.robots.get(robot_code)
            if setting is None:
                raise ClickRefused(f"robot {robot_code!r} is not a robot of this organisation")
            return dict(setting)

    def set_robot(self, robot_code: str, **changes) -> None:
        """Change a robot's receiving mode or URL, as its developer console would; later messages follow it."""
        with self.lock:
            self.robots[robot_code].update(changes)

    def record_from_user(self, userid, msgtype: str, content: dict, *, robot: str | None = None) -> dict:
        """Record a message a member sends to a robot (the app's by default); return its chat entry.

        The entry keeps the robot's receiving mode at this moment as its route: that is the way it goes.
        """
        with self.lock:
            user = self.member(userid)
            if user is None:
                raise ClickRefused(f"{userid!r} is not a member")
            robot = robot or self.robot_code
            route = self.robot_setting(robot)
            if route["mode"] == "http" and not route["url"]:
                raise ClickRefused(f"robot {robot} receives over HTTP but has no robot_callback_url")
            entry = {"seq": next(self._seq), "direction": "from_user", "user": user,
                     "msgid": "msg" + secrets.token_urlsafe(18), "msgtype": msgtype, "sent_at": self.now(),
                     "task_id": None, "content": dict(content), "robot": robot, "route": route}
            self.chats[user].append(entry)
            return copy.deepcopy(entry)

    def robot_message(self, entry: dict, base_url: str) -> dict:
        """Render the robot callback data of a member's message (topic /v1.0/im/bot/messages/get)."""
        user, now_ms = entry["user"], int(entry["sent_at"] * 1000)
        data = {"conversationType": "1", "conversationId": "cid" + self.union_id(user)[1:],
                "chatbotCorpId": self.corp_id, "chatbotUserId": "$:LWCP_v1:$" + entry["robot"],
                "msgId": entry["msgid"], "senderNick": self.names.get(user, user), "isAdmin": False,
                "senderStaffId": user, "senderId": "$:LWCP_v1:$" + self.union_id(user), "senderCorpId": self.corp_id,
                "sessionWebhook": f"{base_url}robot/sendBySession?session={secrets.token_hex(16)}",
                "sessionWebhookExpiredTime": now_ms + 90 * 60 * 1000, "createAt": now_ms,
                "robotCode": entry["robot"], "msgtype": entry["msgtype"]}
        if entry["msgtype"] == "text":
            data["text"] = {"content": entry["content"]["content"]}
        else:
            data["content"] = dict(entry["content"])
        return data

    # -- inspection -------------------------------------------------------------------------------
    def messages(self, userid: str, *, both_ways: bool = False) -> list[dict]:
        """Return what userid received (and, with both_ways, sent), oldest first."""
        with self.lock:
            return [copy.deepcopy(e) for e in self.chats.get(userid, [])
                    if both_ways or e["direction"] == "to_user"]

    def close(self) -> None:
        """Stop the Stream gateway if it runs."""
        with self.lock:
            gateway, self.gateway = self.gateway, None
        if gateway is not None:
            gateway.stop()
