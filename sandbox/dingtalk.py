"""A local DingTalk: the classic oapi and the new API with the platform's checks, a Stream gateway, and
/sandbox/ admin endpoints that mirror the WeCom sandbox's so a test "phone" can drive either.

Classic oapi (as on oapi.dingtalk.com; HTTP 200 {"errcode","errmsg"}, token in ?access_token=):
  GET  /gettoken?appkey&appsecret           same token while it lives, with the seconds it has left
  POST /media/upload?type=file|image|...     multipart media -> {media_id}
  POST /topapi/user/getbyunionid             {"unionid"} -> {result: {contact_type, userid}}; unknown 60121
New API (as on api.dingtalk.com; header x-acs-dingtalk-access-token; errors HTTP 4xx {"code","message","requestid"}):
  POST /v1.0/oauth2/accessToken              {"appKey","appSecret"} -> {accessToken, expireIn}
  POST /v1.0/card/instances/createAndDeliver checks the request and docs/dingtalk.md's card template
  POST /v1.0/card/instances/deliver          deliver an instance created earlier (e.g. after flow control)
  PUT  /v1.0/card/instances                  update by outTrackId (merge with updateCardDataByKey)
  POST /v1.0/card/callbacks/register         callbackRouteKey -> callbackUrl (+ apiSecret); a card created with
                                             callbackType HTTP calls back there, signed x-ddpaas-signature
  POST /v1.0/robot/oToMessages/batchSend     sampleText, sampleMarkdown, sampleFile, sampleImageMsg
  POST /v1.0/robot/groupMessages/send        the robot's post into a group (sandbox/groups.py)
  POST /v1.0/robot/messageFiles/download     {"downloadCode","robotCode"} -> {downloadUrl}
  POST /v1.0/oauth2/userAccessToken          a single-use authCode -> a user token
  GET  /v1.0/contact/users/me                with a user token -> {unionId, nick, openId}
  POST /v1.0/gateway/connections/open        -> {endpoint: ws://127.0.0.1:<port>/connect, ticket}
OAuth page (as on login.dingtalk.com): GET /oauth2/auth?redirect_uri&response_type=code&client_id&scope=openid
&state&prompt=consent redirects a page opened from the phone view's 扫一扫 to redirect_uri?authCode=&state=;
any other browser gets 请在钉钉客户端打开链接 (403); a wrong client_id 400.

Admin (JSON; errors are HTTP 400 {"error": ...}):
  POST/GET/DELETE /sandbox/faults    call faults, flow control, {"revoke_tokens": true} (sandbox/dingtalk_faults.py)
  GET  /sandbox/messages?user=U      what U received, oldest first (&both=1 adds what U sent)
  GET/POST /sandbox/users            the organisation's members; POST {"users": [...], "names"?: {id: 姓名}}
  GET/POST /sandbox/config           mode stream|http and robot_callback_url (the app's robot's 消息接收模式
                                     and 消息接收地址), card_callback_url, event_url, event_token, event_aes_key;
                                     ack_timeout, retry_delay, ping_interval
  POST /sandbox/oauth/code           {"userid"} -> {"code"}: an authCode for userAccessToken
  GET  /sandbox/stats                calls per API
  POST /sandbox/click                {"user","task_id" (outTrackId),"key","selected"?: [ids],"repeat"?}
  POST /sandbox/text                 {"user","content","robot"?}: a robot message (to the app's robot by default)
  POST /sandbox/image                multipart media + user (+ caption, robot): a picture message with a downloadCode
  GET  /sandbox/dingtalk-media/<id>  the bytes behind a downloadCode (the downloadUrl) or a media_id
  POST /sandbox/event                {"EventType", ...}: an encrypted classic event to event_url
  POST /sandbox/verify               the check_url event
  GET  /sandbox/stream               {connections, pending, delivered: [{messageId, topic, acks}], bad_acks, ...}
  POST /sandbox/stream/drop          close every websocket now
  POST /sandbox/stream/faults        {"drop_after"?: N, "withhold"?: N, "duplicate"?: N}
  POST /sandbox/stream/malformed     push a card-callback frame whose data is not JSON (never redelivered)
  POST /sandbox/stream/disconnect    push SYSTEM disconnect; POST /sandbox/stream/ping pushes SYSTEM ping

Phone view (sandbox/dingtalk_phone.py): GET /phone, GET /phone/<user>, GET /phone/<user>/scan?url=.

Each click and each message is routed on its own, as DingTalk routes it: a click by its card's callbackType
(STREAM: topic /v1.0/card/instances/callback; HTTP: the URL registered for its callbackRouteKey, signed
x-ddpaas-signature), a member's message by the receiving mode its robot had when it was sent (Stream: topic
/v1.0/im/bot/messages/get; HTTP: POSTed to the robot's robot_callback_url with headers timestamp (ms, never
the same twice) and sign = base64(HmacSHA256(AppSecret, f"{timestamp}\\n{AppSecret}"))), with the frame's data
as the body; each attempt reports its sent_headers and sent_body, so a test can replay them as an
eavesdropper would. A card
callback's answer (the ACK's response, or the HTTP reply) with cardData/privateData/userPrivateData
updates the card, with the rules of PUT /v1.0/card/instances.

Where the platform documents no code, the sandbox picks one and says so: media over 20 MB errcode 40004;
card refusals 400 param.* naming the field; robot refusals 400 invalidParameter.*; a bad authCode 400
invalidAuthCode. A flow-controlled person gets deliverResults success false with an errorMsg naming flow
control from createAndDeliver [unverified: the sandbox's choice], and is listed in
flowControlledStaffIdList by batchSend (HTTP 200, nothing delivered). Classic and new tokens are kept
apart ([unverified] whether the platform accepts one for the other). The clock is
app.config["SANDBOX_NOW"] (a callable, default time.time); app.config["SANDBOX_CLICK_WAIT"] (10 s) bounds
how long /sandbox/click waits for an ACK.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import time
from urllib.parse import quote, urlencode, urlsplit

import requests
from flask import Flask, Response, jsonify, redirect, request

from sandbox.device import Devices, device_routes
from sandbox.dingtalk_phone import SCANNER_COOKIE, dingtalk_phone
from sandbox.dingtalk_state import AcsError, ClickRefused, DingtalkState, OapiError
from sandbox.dingtalk_stream import StreamGateway
from sandbox.groups import Groups, dingtalk_group_send
from sandbox.server import admin_body as _admin_body, bad as _bad, run_in_thread

__all__ = ["create_dingtalk_sandbox", "dingtalk_sandbox_state", "run_dingtalk_sandbox", "sign",
           "CARD_TOPIC", "ROBOT_TOPIC"]

CARD_TOPIC = "/v1.0/card/instances/callback"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
ANSWER_WITHIN = 5.0   # seconds an HTTP callback may take
GATEWAY_SETTINGS = ("ack_timeout", "retry_delay", "ping_interval")


def create_dingtalk_sandbox(*, app_key: str, app_secret: str, corp_id: str, robot_code: str,
                            card_template_id: str = "permit-card.schema", users=(), names: dict | None = None) -> Flask:
    """Build a DingTalk stand-in for one organisation and one app; its state lives in the returned app."""
    app = Flask("sandbox.dingtalk")
    app.config["SANDBOX_NOW"] = time.time
    app.config["SANDBOX_CLICK_WAIT"] = 10.0
    state = DingtalkState(app_key=app_key, app_secret=app_secret, corp_id=corp_id, robot_code=robot_code,
                          card_template_id=card_template_id, users=users, names=names,
                          now=lambda: app.config["SANDBOX_NOW"]())
    app.extensions["dingtalk_sandbox"] = state
    state.devices = Devices()   # before the routes: the ticket endpoint reads it
    state.groups = Groups(state.now)
    state.groups.admin_routes(app)
    _oapi_routes(app, state)
    _acs_routes(app, state)
    _oauth_page(app, state)
    _admin_routes(app, state)
    _stream_routes(app, state)
    _user_routes(app, state)
    app.register_blueprint(dingtalk_phone)
    device_routes(app, state.devices, platform="dingtalk", corp_id=state.corp_id, member=state.member,
                  scanner_cookie=SCANNER_COOKIE, now=state.now)
    return app


def dingtalk_sandbox_state(app: Flask) -> DingtalkState:
    """Return the state behind a sandbox app (for tests that look inside)."""
    return app.extensions["dingtalk_sandbox"]


def run_dingtalk_sandbox(app: Flask, host: str = "127.0.0.1", port: int = 0):
    """Serve the sandbox like run_in_thread; the stop function also ends its Stream gateway."""
    base, stop_http = run_in_thread(app, host, port)

    def stop() -> None:
        dingtalk_sandbox_state(app).close()
        stop_http()

    return base, stop


def card_signature(timestamp: str, api_secret: str) -> str:
    """Sign a card callback as DingTalk documents it: base64(HmacSHA256(key=apiSecret, msg=timestamp))."""
    return base64.b64encode(hmac.new(api_secret.encode(), timestamp.encode(), hashlib.sha256).digest()).decode()


def sign(timestamp: str, secret: str) -> str:
    """Sign an HTTP callback as DingTalk signs robot callbacks."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _gateway(state: DingtalkState) -> StreamGateway:
    with state.lock:
        if state.gateway is None:
            state.gateway = StreamGateway(app_id=state.app_key, now=state.now, on_ack=_card_ack(state),
                                          **state.gateway_settings)
        return state.gateway


def _card_ack(state: DingtalkState):
    def on_ack(frame: dict, ack: dict) -> str:
        if frame["topic"] != CARD_TOPIC:
            return "not a card callback"
        try:
            response = json.loads(ack.get("data") or "{}").get("response")
            data = json.loads(frame["data"])
        except (TypeError, ValueError, AttributeError):
            return "ignored: ACK data is not {\"response\": ...} JSON"
        return _apply_response(state, data, response)
    return on_ack


def _apply_response(state: DingtalkState, data: dict, response) -> str:
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except ValueError:
            return "ignored: response is not a card update"
    if not isinstance(response, dict) or not {"cardData", "privateData", "userPrivateData"} & response.keys():
        return "no card update in the response"
    try:
        with state.lock:
            return state.apply_card_change(data["outTrackId"], response, via="callback", user=data["userId"])
    except AcsError as exc:
        return f"refused: {exc.code}: {exc.message}"


# -- API ------------------------------------------------------------------------------------------
def _json_body(oapi: bool) -> dict:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if oapi:
        raise OapiError(40035, "不合法的参数：body 须为 JSON 对象")
    raise AcsError(400, "InvalidParameter.Body", "body must be a JSON object")


def _register(app: Flask, state: DingtalkState, name: str, rule: str, method: str, *, oapi: bool, token: str | None):
    def register(handler):
        def view():
            with state.lock:
                state.stats[name] += 1
            delay, failure = state.faults.decide(name)
            if delay:
                time.sleep(delay)
            try:
                if failure is not None:  # a failed call has no effect
                    raise (OapiError(failure.get("errcode", -1), "系统繁忙（sandbox fault）") if oapi
                           else AcsError(failure.get("status", 503), failure.get("code", "ServiceUnavailable"),
                                         "sandbox fault"))
                if token == "classic":
                    state.check_classic(request.args.get("access_token"))
                elif token in ("new", "user"):
                    state.check_new(request.headers.get("x-acs-dingtalk-access-token"), kind=token)
                result = handler()
            except OapiError as exc:
                return jsonify(exc.body())
            except AcsError as exc:
                return jsonify(exc.body()), exc.status
            return result if isinstance(result, Response) else jsonify(result)
        app.add_url_rule(rule, f"api {name}", view, methods=[method])
        return handler
    return register


def _oapi_routes(app: Flask, state: DingtalkState) -> None:
    def api(name, rule, method, token="classic"):
        return _register(app, state, name, rule, method, oapi=True, token=token)

    @api("gettoken", "/gettoken", "GET", token=None)
    def gettoken():
        if request.args.get("appkey") != state.app_key or request.args.get("appsecret") != state.app_secret:
            raise OapiError(40089, "不合法的corpid或corpsecret")
        tok, life = state.issue("classic")
        return {"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": life}

    @api("media/upload", "/media/upload", "POST")
    def upload():
        media = request.files.get("media")
        name = (media.filename if media else "") or "media"
        ctype = media.mimetype if media and media.mimetype != "application/octet-stream" else None
        ctype = ctype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return state.upload(request.args.get("type") or request.form.get("type"), name, ctype,
                            media.read() if media else None)

    @api("get_jsapi_ticket", "/get_jsapi_ticket", "GET")
    def get_jsapi_ticket():
        return {"errcode": 0, "errmsg": "ok", "ticket": state.devices.ticket, "expires_in": 7200}

    @api("user/getbyunionid", "/topapi/user/getbyunionid", "POST")
    def getbyunionid():
        return state.by_union_id(_json_body(oapi=True).get("unionid"))


def _acs_routes(app: Flask, state: DingtalkState) -> None:
    def api(name, rule, method, token="new"):
        return _register(app, state, name, rule, method, oapi=False, token=token)

    @api("oauth2/accessToken", "/v1.0/oauth2/accessToken", "POST", token=None)
    def access_token():
        body = _json_body(oapi=False)
        if body.get("appKey") != state.app_key or body.get("appSecret") != state.app_secret:
            raise AcsError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        tok, life = state.issue("new")
        return {"accessToken": tok, "expireIn": life}

    @api("createAndDeliver", "/v1.0/card/instances/createAndDeliver", "POST")
    def create_and_deliver():
        return state.create_and_deliver(_json_body(oapi=False))

    @api("registerCallback", "/v1.0/card/callbacks/register", "POST")
    def register_callback():
        return state.register_callback(_json_body(oapi=False))

    @api("deliverCard", "/v1.0/card/instances/deliver", "POST")
    def deliver_card():
        return state.deliver(_json_body(oapi=False))

    @api("updateCard", "/v1.0/card/instances", "PUT")
    def update_card():
        return state.update_card(_json_body(oapi=False))

    @api("batchSend", "/v1.0/robot/oToMessages/batchSend", "POST")
    def batch_send():
        return state.batch_send(_json_body(oapi=False))

    @api("groupMessages/send", "/v1.0/robot/groupMessages/send", "POST")
    def group_send():
        return dingtalk_group_send(state.groups, state, _json_body(oapi=False))

    @api("messageFiles/download", "/v1.0/robot/messageFiles/download", "POST")
    def message_file():
        body = _json_body(oapi=False)
        if body.get("robotCode") != state.robot_code:
            raise AcsError(400, "invalidParameter.robotCode", "robotCode is not this app's robot")
        code = body.get("downloadCode")
        if not isinstance(code, str) or (state.media.get(code) or {}).get("kind") != "download":
            raise AcsError(400, "invalidDownloadCode", "downloadCode is invalid")
        return {"downloadUrl": f"{request.host_url}sandbox/dingtalk-media/{quote(code)}"}

    @api("oauth2/userAccessToken", "/v1.0/oauth2/userAccessToken", "POST", token=None)
    def user_access_token():
        return state.user_token(_json_body(oapi=False))

    @api("contact/users/me", "/v1.0/contact/users/me", "GET", token=None)
    def users_me():
        return state.me(request.headers.get("x-acs-dingtalk-access-token"))

    @api("connections/open", "/v1.0/gateway/connections/open", "POST", token=None)
    def open_connection():
        body = _json_body(oapi=False)
        if body.get("clientId") != state.app_key or body.get("clientSecret") != state.app_secret:
            raise AcsError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        subs = body.get("subscriptions")
        if not isinstance(subs, list) or not subs or not all(isinstance(s, dict) and s.get("topic") for s in subs):
            raise AcsError(400, "invalidParameter.subscriptions", "subscriptions must list {type, topic}")
        gateway = _gateway(state)
        return {"endpoint": gateway.endpoint, "ticket": gateway.issue_ticket(subs)}


def _page(text: str, status: int) -> Response:
    # The platform shows a plain page, not JSON, to a person who opened the link.
    return Response(f"<!doctype html><meta charset=utf-8><title>钉钉</title><p>{text}</p>",
                    status=status, mimetype="text/html")


def _oauth_page(app: Flask, state: DingtalkState) -> None:
    @app.get("/oauth2/auth")
    def authorize():
        args = request.args
        if args.get("client_id") != state.app_key:
            return _page("参数错误：client_id 不是本应用的 AppKey", 400)
        if args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
            return _page("参数错误：response_type 须为 code，scope 须含 openid", 400)
        target = args.get("redirect_uri", "")
        if urlsplit(target).scheme not in ("http", "https"):
            return _page("参数错误：redirect_uri 须为 http(s) 网址", 400)
        user = state.member(request.cookies.get(SCANNER_COOKIE))
        if user is None:
            return _page("请在钉钉客户端打开链接", 403)
        query = urlencode({"authCode": state.mint_auth_code(user), "state": args.get("state", "")})
        return redirect(f"{target}{'&' if urlsplit(target).query else '?'}{query}")


# -- admin ----------------------------------------------------------------------------------------
def _admin_routes(app: Flask, state: DingtalkState) -> None:
    @app.route("/sandbox/faults", methods=["GET", "POST", "DELETE"])
    def faults():
        if request.method == "DELETE":
            state.faults.clear()
            return jsonify({"faults": []})
        if request.method == "POST":
            spec = _admin_body()
            if spec.get("revoke_tokens"):
                state.revoke_tokens()
                if not {"api", "flow_control", "per_user_per_minute"} & spec.keys():
                    return jsonify({"revoked": True, "faults": state.faults.list()})
            try:
                state.faults.add(spec)
            except (TypeError, ValueError) as exc:
                return _bad(str(exc))
        return jsonify({"faults": state.faults.list()})

    @app.get("/sandbox/messages")
    def messages():
        user = request.args.get("user")
        if not user:
            return _bad("user required")
        return jsonify(state.messages(user, both_ways=request.args.get("both") in ("1", "true")))

    @app.route("/sandbox/users", methods=["GET", "POST"])
    def users():
        if request.method == "POST":
            given, names = _admin_body().get("users"), _admin_body().get("names")
            if not isinstance(given, list) or not all(isinstance(u, str) and u for u in given):
                return _bad("users must be a list of user ids")
            if names is not None and not (isinstance(names, dict) and all(isinstance(n, str) for n in names.values())):
                return _bad("names must map user ids to display names")
            state.set_users(given, names)
        return jsonify({"users": sorted(state.users), "names": state.names})

    @app.route("/sandbox/config", methods=["GET", "POST"])
    def config():
        if request.method == "POST":
            why = _configure(state, _admin_body())
            if why:
                return _bad(why)
        robot = state.robot_setting(state.robot_code)
        return jsonify({"app_key": state.app_key, "corp_id": state.corp_id, "robot_code": state.robot_code,
                        "card_template_id": state.card_template_id, **state.config, **state.gateway_settings,
                        "mode": robot["mode"], "robot_callback_url": robot["url"]})

    @app.post("/sandbox/oauth/code")
    def oauth_code():
        userid = _admin_body().get("userid")
        if not isinstance(userid, str) or not userid:
            return _bad("userid required")
        return jsonify({"code": state.mint_auth_code(userid)})

    @app.get("/sandbox/stats")
    def stats():
        with state.lock:
            return jsonify(dict(state.stats))

    @app.get("/sandbox/dingtalk-media/<code>")
    def media_file(code):
        media = state.media.get(code)
        if media is None:
            return _bad("no such media", 404)
        disposition = f"inline; filename*=UTF-8''{quote(media['filename'])}"
        return Response(media["data"], mimetype=media["content_type"], headers={"Content-Disposition": disposition})

    @app.post("/sandbox/event")
    def event():
        body = _admin_body()
        if not isinstance(body.get("EventType"), str):
            return _bad("EventType required")
        return _post_event(state, body)

    @app.post("/sandbox/verify")
    def verify():
        return _post_event(state, {"EventType": "check_url"})


def _configure(state: DingtalkState, body: dict) -> str | None:
    # mode and robot_callback_url are the app's robot's 消息接收模式 and 消息接收地址, set on the robot.
    if "mode" in body and body["mode"] not in ("stream", "http"):
        return "mode must be stream or http"
    if "robot_callback_url" in body and not isinstance(body["robot_callback_url"], (str, type(None))):
        return "robot_callback_url must be a URL"
    if "filtered" in body:
        if not isinstance(body["filtered"], list) or not all(isinstance(u, str) for u in body["filtered"]):
            return "filtered must list user ids (members who have not authorised the robot, or left)"
        with state.lock:
            state.filtered = set(body["filtered"])
    for key in state.config:
        if key in body:
            state.config[key] = body[key] or None
    robot = {name: body[key] for key, name in (("mode", "mode"), ("robot_callback_url", "url")) if key in body}
    if robot:
        state.set_robot(state.robot_code, **{k: v or None for k, v in robot.items()})
    for key in GATEWAY_SETTINGS:
        if key in body:
            if not isinstance(body[key], (int, float)) or body[key] < 0:
                return f"{key} must be a non-negative number of seconds"
            state.gateway_settings[key] = float(body[key])
            if state.gateway is not None:
                setattr(state.gateway, key, float(body[key]))
    return None


def _post_event(state: DingtalkState, event: dict):
    from dingtalk.crypto import DingTalkCrypto  # only the HTTP event mode needs the old SDK

    cfg = state.config
    if not (cfg["event_url"] and cfg["event_token"] and cfg["event_aes_key"]):
        return _bad("configure event_url, event_token and event_aes_key first")
    crypto = DingTalkCrypto(cfg["event_token"], cfg["event_aes_key"], state.app_key)
    sealed = crypto.encrypt_message(json.dumps(event, ensure_ascii=False), timestamp=int(state.now() * 1000))
    params = {"msg_signature": sealed["msg_signature"], "timestamp": sealed["timeStamp"], "nonce": sealed["nonce"]}
    answer = _post(cfg["event_url"], params=params, body={"encrypt": sealed["encrypt"]})
    outcome = {**answer, "reply_ok": False, "why": None}
    try:
        reply = json.loads(answer["body"]) if answer["status"] == 200 else None
        plain = crypto.decrypt_encrypt_str(reply["msg_signature"], reply["timeStamp"], reply["nonce"],
                                           reply["encrypt"]) if isinstance(reply, dict) else None
    except Exception as exc:  # noqa: BLE001 - a reply that won't open is reported to the caller
        plain, outcome["why"] = None, f"reply does not decrypt: {exc!r}"
    if plain == "success":
        outcome["reply_ok"] = True
    elif outcome["why"] is None:
        outcome["why"] = "71009 返回文本非success" if plain is not None else "reply is not the encrypted success"
    return jsonify(outcome)


def _callback_stamp(state: DingtalkState) -> str:
    """Return a timestamp (ms) for an HTTP callback, later than every one sent before.

    The sign covers only the timestamp, so the app spends each pair once: two deliveries in one
    millisecond would otherwise carry the same pair and the second would be refused as a replay.
    """
    with state.lock:
        stamp = max(int(state.now() * 1000), state.last_callback_ms + 1)
        state.last_callback_ms = stamp
    return str(stamp)


def _post(url: str, *, body: dict, params: dict | None = None, headers: dict | None = None) -> dict:
    try:
        answer = requests.post(url, params=params, json=body, headers=headers, timeout=ANSWER_WITHIN)
    except requests.Timeout:
        return {"status": None, "body": f"no answer within {ANSWER_WITHIN:g} s"}
    except requests.RequestException as exc:
        return {"status": None, "body": f"unreachable: {exc}"}
    return {"status": answer.status_code, "body": answer.text}


# -- the Stream gateway's admin -------------------------------------------------------------------
def _stream_routes(app: Flask, state: DingtalkState) -> None:
    @app.get("/sandbox/stream")
    def stream():
        if state.gateway is None:
            return jsonify({"endpoint": None, "connections": [], "pending": [], "delivered": [], "bad_acks": []})
        return jsonify(state.gateway.snapshot())

    @app.post("/sandbox/stream/drop")
    def drop():
        return jsonify({"dropped": _gateway(state).drop_all()})

    @app.post("/sandbox/stream/faults")
    def stream_faults():
        try:
            return jsonify({"faults": _gateway(state).set_faults(_admin_body())})
        except ValueError as exc:
            return _bad(str(exc))

    @app.post("/sandbox/stream/malformed")
    def malformed():
        mid = _gateway(state).publish(CARD_TOPIC, "{not json", redeliver=False)
        return jsonify({"message_id": mid})

    @app.post("/sandbox/stream/disconnect")
    def disconnect():
        return jsonify({"disconnected": _gateway(state).disconnect_all()})

    @app.post("/sandbox/stream/ping")
    def ping():
        return jsonify({"pinged": _gateway(state).ping_all()})


# -- what members do ------------------------------------------------------------------------------
def _user_routes(app: Flask, state: DingtalkState) -> None:
    @app.errorhandler(ClickRefused)
    def refused(exc):
        return _bad(str(exc))

    def repeat_of(value) -> int:
        try:
            return max(1, min(int(value or 1), 10))
        except (TypeError, ValueError):
            raise ClickRefused("repeat must be an integer") from None

    @app.post("/sandbox/click")
    def click():
        body = _admin_body()
        track, key, selected = body.get("task_id"), body.get("key"), body.get("selected") or []
        if not isinstance(track, str) or not isinstance(key, str):
            return _bad("task_id (the outTrackId) and key required")
        if not isinstance(selected, list) or not all(isinstance(i, str) for i in selected):
            return _bad("selected must be a list of checklist option ids")
        data = state.prepare_click(body.get("user"), track, key, selected)
        repeat = repeat_of(body.get("repeat"))
        # Each card calls back the way it was created: callbackType STREAM or HTTP (to its route key).
        if state.card_callback_type(track) == "HTTP":
            return jsonify(_deliver_card_http(state, track, data, repeat))
        return jsonify(_deliver_stream(app, state, CARD_TOPIC, data, repeat))

    @app.post("/sandbox/text")
    def text():
        body = _admin_body()
        if not isinstance(body.get("content"), str) or not body["content"]:
            return _bad("content required")
        if body.get("robot") is not None and not isinstance(body["robot"], str):
            return _bad("robot must be a robotCode")
        entry = state.record_from_user(body.get("user"), "text", {"content": body["content"]}, robot=body.get("robot"))
        data = state.robot_message(entry, request.host_url)
        return jsonify({**_deliver(app, state, entry, data, repeat_of(body.get("repeat"))),
                        "msg_id": entry["msgid"], "route": entry["route"]["mode"]})

    @app.post("/sandbox/image")
    def image():
        upload = request.files.get("media")
        if upload is None:
            return _bad("multipart field media required")
        if state.member(request.form.get("user")) is None:
            return _bad(f"{request.form.get('user')!r} is not a member")
        data = upload.read()
        name, ctype = upload.filename or "image.jpg", upload.mimetype or "image/jpeg"
        code = state.store_media("download", name, ctype, data)
        picture = state.store_media("download", name, ctype, data)
        caption, robot = request.form.get("caption"), request.form.get("robot")
        if caption:   # a photo sent with words arrives as richText, not picture
            entry = state.record_from_user(request.form.get("user"), "richText", {"richText": [
                {"text": caption}, {"type": "picture", "downloadCode": code, "pictureDownloadCode": picture}]},
                robot=robot)
        else:
            entry = state.record_from_user(request.form.get("user"), "picture",
                                           {"downloadCode": code, "pictureDownloadCode": picture}, robot=robot)
        message = state.robot_message(entry, request.host_url)
        return jsonify({**_deliver(app, state, entry, message, repeat_of(request.form.get("repeat"))),
                        "msg_id": entry["msgid"], "download_code": code, "route": entry["route"]["mode"]})


def _deliver(app: Flask, state: DingtalkState, entry: dict, data: dict, repeat: int) -> dict:
    """Deliver one robot message the way its robot was set to receive when it was sent (Stream or HTTP).

    Per message, as on DingTalk: the route is the robot's 消息接收模式 recorded with the message, not a
    mode of the sandbox, so a change of the setting affects later messages only, and cards (routed by
    their own callbackType) are not touched by it.
    """
    route = entry["route"]
    if route["mode"] == "http":
        return _deliver_robot_http(state, route["url"], data, repeat)
    return _deliver_stream(app, state, ROBOT_TOPIC, data, repeat)


def _deliver_card_http(state: DingtalkState, track: str, data: dict, repeat: int) -> dict:
    """POST a card click to the URL registered for the card's route key, signed as DingTalk signs it.

    Headers x-ddpaas-signature-timestamp and x-ddpaas-signature = base64(HmacSHA256(apiSecret, timestamp)),
    sent only when the route key was registered with an apiSecret (DingTalk's 事件回调 guide).
    """
    route = state.card_route(track)
    if route is None:
        raise ClickRefused(f"card {track} calls back over HTTP, but its callbackRouteKey is not registered")
    attempts = []
    for _ in range(repeat):
        timestamp = _callback_stamp(state)
        headers = ({"x-ddpaas-signature-timestamp": timestamp,
                    "x-ddpaas-signature": card_signature(timestamp, route["apiSecret"])}
                   if route.get("apiSecret") else {})
        attempts.append({**_post(route["callbackUrl"], body=data, headers=headers), "sent_headers": headers,
                         "sent_body": data})
    last = attempts[-1]
    outcome = {"status": last["status"], "body": last["body"], "attempts": attempts, "applied": None}
    if last["status"] == 200:
        try:
            reply = json.loads(last["body"]) if last["body"].strip() else None
        except ValueError:
            reply = None
        outcome["applied"] = _apply_response(state, data, reply)
    return outcome


def _deliver_stream(app: Flask, state: DingtalkState, topic: str, data: dict, repeat: int) -> dict:
    gateway = _gateway(state)
    mid = gateway.publish(topic, data, copies=repeat)
    if not gateway.has_listener(topic):
        return {"status": "pending", "message_id": mid, "why": f"no Stream connection subscribed to {topic}"}
    frame = gateway.wait(mid, timeout=app.config["SANDBOX_CLICK_WAIT"], acks=repeat)
    if frame["status"] == "failed":
        return {"status": "lost", "message_id": mid, "why": "not ACKed with a 2xx-4xx, and DingTalk does not "
                "send a CALLBACK frame again", "acks": frame["acks"], "attempts": frame["attempts"]}
    if frame["status"] != "delivered":
        return {"status": "pending", "message_id": mid, "why": "no ACK yet", "attempts": frame["attempts"]}
    ack = next(a for a in frame["acks"] if a["code"] < 500)
    return {"status": ack["code"], "message_id": mid, "ack": ack, "acks": frame["acks"], "applied": ack["applied"]}


def _deliver_robot_http(state: DingtalkState, url: str, data: dict, repeat: int) -> dict:
    """POST a robot message to its robot's 消息接收地址, signed with timestamp and sign (the AppSecret)."""
    attempts = []
    for _ in range(repeat):
        timestamp = _callback_stamp(state)
        headers = {"timestamp": timestamp, "sign": sign(timestamp, state.app_secret)}
        attempts.append({**_post(url, body=data, headers=headers), "sent_headers": headers, "sent_body": data})
    last = attempts[-1]
    return {"status": last["status"], "body": last["body"], "attempts": attempts, "applied": None}
