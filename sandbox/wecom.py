"""A local WeCom: the real /cgi-bin/ API with the platform's checks, plus /sandbox/ admin endpoints.

API (as on qyapi.weixin.qq.com): gettoken, message/send, message/update_template_card, media/upload,
media/get, auth/getuserinfo. Errors are HTTP 200 with a non-zero errcode, as on the platform.

Admin (JSON; errors are HTTP 400 {"error": ...}):
  POST/GET/DELETE /sandbox/faults    inject, list or clear faults; {"revoke_tokens": true} revokes tokens
  GET  /sandbox/messages?user=U      what U received, oldest first (&both=1 adds what U sent)
  GET  /sandbox/dropped              messages dropped silently by the per-member limits
  GET/POST /sandbox/users            the corp's members; POST {"users": [...], "names"?: {id: 姓名}}
  GET/POST /sandbox/config           the app's callback_url
  POST /sandbox/oauth/code           {"userid"} -> {"code"} for auth/getuserinfo
  GET  /sandbox/stats                calls per API
  POST /sandbox/click                {"user","task_id","key","selected"?,"repeat"?}: post a template_card_event
  POST /sandbox/text                 {"user","content"}: post a text message
  POST /sandbox/image                multipart media + user: store the image and post an image message
  POST /sandbox/verify               do the callback URL check (echostr)
  GET  /sandbox/media/<media_id>     the bytes behind a PicUrl

Phone view (sandbox/phone.py, HTML): GET /phone lists the members; GET /phone/<user> is their chat
with the app, where clicks, text and photos go through /sandbox/click, /sandbox/text, /sandbox/image;
GET /phone/<user>/scan opens what a QR code holds as that member's WeCom client.

OAuth page (as on open.weixin.qq.com): GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code
&scope=snsapi_base&state&agentid answers the page opened from the phone view with a redirect to
redirect_uri?code=&state=; any other browser gets 请在企业微信客户端打开链接.

Where the platform documents no code, the sandbox picks the closest one from WeCom's global list:
card field rules 40058 (with a hint naming the field); task_id malformed or reused 42014; interactive card
without a callback URL 43012; response_code reused or older than 72 h 42022, never issued 40058; missing
token 41001 (the platform's code; unknown 40014, expired or revoked 42001); body not JSON 47001.
gettoken returns the same token while it lives, with the seconds it has left. The clock is
app.config["SANDBOX_NOW"] (a callable, default time.time); it also stamps the callbacks.
"""
from __future__ import annotations

import json
import mimetypes
import re
import time
from urllib.parse import quote, urlencode, urlsplit

import xmltodict
from flask import Flask, Response, jsonify, redirect, request

from sandbox.device import Devices, device_routes
from sandbox.phone import SCANNER_COOKIE, phone
from sandbox.server import admin_body as _admin_body, bad as _bad, run_in_thread
from sandbox.wecom_callback import Callbacks, click_xml, message_xml, verify_callback_url
from sandbox.wecom_errors import ApiError, ClickRefused, error_body
from sandbox.groups import Groups, wecom_webhook
from sandbox.wecom_state import WecomState

__all__ = ["create_wecom_sandbox", "run_in_thread", "verify_callback_url", "sandbox_state"]


def create_wecom_sandbox(*, corp_id: str, corp_secret: str, agent_id: int, token: str, aes_key: str,
                         callback_url: str | None = None, users: list[str] = (), bot_id: str | None = None,
                         bot_secret: str | None = None) -> Flask:
    """Build a WeCom stand-in for one corp and one app; its state lives in the returned app.

    With bot_id and bot_secret it also runs the robot's long-connection gateway (sandbox/wecom_ws.py);
    POST /sandbox/config {"mode": "ws"} then sends members' clicks, texts and photos over it.
    """
    app = Flask("sandbox.wecom")
    app.config["SANDBOX_NOW"] = time.time
    state = WecomState(corp_id=corp_id, corp_secret=corp_secret, agent_id=agent_id, token=token,
                       aes_key=aes_key, callback_url=callback_url, users=users,
                       now=lambda: app.config["SANDBOX_NOW"]())
    callbacks = Callbacks(token=token, aes_key=aes_key, corp_id=corp_id, agent_id=state.agent_id)
    app.extensions["wecom_sandbox"] = state
    state.mode, state.gateway = "callback", None
    state.groups = Groups(state.now)
    state.groups.admin_routes(app)
    if bot_id and bot_secret:
        from sandbox.wecom_ws import WsGateway
        state.gateway = WsGateway(state, bot_id=bot_id, secret=bot_secret)
        _ws_routes(app, state)
    _api_routes(app, state)
    _admin_routes(app, state)
    _user_routes(app, state, callbacks)
    _oauth_routes(app, state)
    app.register_blueprint(phone)
    state.devices = Devices()
    device_routes(app, state.devices, platform="wecom", corp_id=state.corp_id, member=state.member,
                  scanner_cookie=SCANNER_COOKIE, now=state.now,
                  keep=lambda photo: state.media.upload("image", "camera.jpg", "image/jpeg", photo)["media_id"])
    return app


def sandbox_state(app: Flask) -> WecomState:
    """Return the state behind a sandbox app (for tests that look inside)."""
    return app.extensions["wecom_sandbox"]


def _json_api_body() -> dict:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        raise ApiError(47001, "body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(47001, "body must be a JSON object")
    return body


def _api_routes(app: Flask, state: WecomState) -> None:
    def api(name: str, method: str, *, needs_token: bool = True):
        def register(handler):
            def view():
                with state.lock:
                    state.stats[name] += 1
                delay, errcode = state.faults.decide(name)
                if delay:
                    time.sleep(delay)
                if errcode is not None:
                    return jsonify(error_body(errcode))  # a failed call has no effect
                try:
                    if needs_token:
                        state.check_token(request.args.get("access_token"))
                    result = handler()
                except ApiError as exc:
                    return jsonify(exc.body())
                return result if isinstance(result, Response) else jsonify(result)
            app.add_url_rule(f"/cgi-bin/{name}", f"api {name}", view, methods=[method])
            return handler
        return register

    @api("gettoken", "GET", needs_token=False)
    def gettoken():
        return state.gettoken(request.args.get("corpid"), request.args.get("corpsecret"))

    @api("webhook/send", "POST", needs_token=False)
    def webhook_send():
        return wecom_webhook(state.groups, _json_api_body(), request.args.get("key"))

    @api("message/send", "POST")
    def send():
        return state.send(_json_api_body())

    @api("message/update_template_card", "POST")
    def update_template_card():
        return state.update_card(_json_api_body())

    @api("media/upload", "POST")
    def upload():
        upload = request.files.get("media")
        data = upload.read() if upload else None
        name = (upload.filename if upload else "") or "media"
        ctype = upload.mimetype if upload and upload.mimetype != "application/octet-stream" else None
        ctype = ctype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return state.media.upload(request.args.get("type"), name, ctype, data)

    @api("media/get", "GET")
    def media_get():
        return _media_response(state.media.get(request.args.get("media_id")))

    @api("get_jsapi_ticket", "GET")
    def get_jsapi_ticket():
        return {"errcode": 0, "errmsg": "ok", "ticket": state.devices.ticket, "expires_in": 7200}

    @api("auth/getuserinfo", "GET")
    def getuserinfo():
        return state.oauth.resolve(request.args.get("code"))


def _media_response(media: dict) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(media['filename'])}"
    return Response(media["data"], mimetype=media["content_type"], headers={"Content-Disposition": disposition})


def _admin_routes(app: Flask, state: WecomState) -> None:
    @app.route("/sandbox/faults", methods=["GET", "POST", "DELETE"])
    def faults():
        if request.method == "DELETE":
            state.faults.clear()
            return jsonify({"faults": []})
        if request.method == "POST":
            spec = _admin_body()
            if spec.get("revoke_tokens"):
                state.revoke_tokens()
                if "api" not in spec:
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

    @app.get("/sandbox/dropped")
    def dropped():
        with state.lock:
            return jsonify(list(state.dropped))

    @app.route("/sandbox/users", methods=["GET", "POST"])
    def users():
        if request.method == "POST":
            given, names = _admin_body().get("users"), _admin_body().get("names")
            if not isinstance(given, list) or not all(isinstance(u, str) and u for u in given):
                return _bad("users must be a list of user ids")
            if names is not None and not (isinstance(names, dict) and all(
                    isinstance(n, str) for n in names.values())):
                return _bad("names must map user ids to display names")
            state.set_users(given, names)
        return jsonify({"users": sorted(state.users.values()), "names": state.names})

    @app.route("/sandbox/config", methods=["GET", "POST"])
    def config():
        if request.method == "POST" and "callback_url" in _admin_body():
            state.callback_url = _admin_body()["callback_url"] or None
        if request.method == "POST" and "mode" in _admin_body():
            mode = _admin_body()["mode"]
            if mode not in ("callback", "ws") or (mode == "ws" and state.gateway is None):
                return _bad("mode is callback, or ws when the sandbox was built with bot_id and bot_secret")
            state.mode = mode
        return jsonify({"corp_id": state.corp_id, "agent_id": state.agent_id, "callback_url": state.callback_url,
                        "mode": state.mode, "ws_url": state.gateway.url if state.gateway else None})

    @app.post("/sandbox/oauth/code")
    def oauth_code():
        userid = _admin_body().get("userid")
        if not isinstance(userid, str) or not userid:
            return _bad("userid required")
        return jsonify({"code": state.oauth.mint(userid)})

    @app.get("/sandbox/stats")
    def stats():
        with state.lock:
            return jsonify(dict(state.stats))

    @app.get("/sandbox/media/<media_id>")
    def media_file(media_id):
        try:
            return _media_response(state.media.get(media_id))
        except ApiError as exc:
            return jsonify(exc.body()), 404

    @app.post("/sandbox/verify")
    def verify():
        url = _admin_body().get("callback_url") or state.callback_url
        if not url:
            return _bad("no callback_url configured")
        return jsonify(verify_callback_url(url, token=state.token, aes_key=state.aes_key, corp_id=state.corp_id,
                                           now=state.now()))


OAUTH_STATE = re.compile(r"[a-zA-Z0-9]{0,128}")
OAUTH_SCOPES = ("snsapi_base", "snsapi_privateinfo")


def _oauth_routes(app: Flask, state: WecomState) -> None:
    def page(text: str, status: int) -> Response:
        # The platform shows a plain page, not JSON, to a person who opened the link.
        return Response(f"<!doctype html><meta charset=utf-8><title>企业微信</title><p>{text}</p>",
                        status=status, mimetype="text/html")

    @app.get("/connect/oauth2/authorize")
    def authorize():
        args = request.args
        if args.get("appid") != state.corp_id:
            return page("参数错误：appid 不是本企业的 CorpID", 400)
        if args.get("response_type") != "code" or args.get("scope") not in OAUTH_SCOPES:
            return page("参数错误：response_type 须为 code，scope 须为 snsapi_base 或 snsapi_privateinfo", 400)
        if args.get("agentid") not in (None, str(state.agent_id)):
            return page("参数错误：agentid 不是本应用", 400)
        target, given = args.get("redirect_uri", ""), args.get("state", "")
        if urlsplit(target).scheme not in ("http", "https") or not OAUTH_STATE.fullmatch(given):
            return page("参数错误：redirect_uri 须为 http(s) 网址，state 须为不超过 128 个字母或数字", 400)
        user = state.member(request.cookies.get(SCANNER_COOKIE))
        if user is None:
            return page("请在企业微信客户端打开链接", 403)
        query = urlencode({"code": state.oauth.mint(user), "state": given})
        return redirect(f"{target}{'&' if urlsplit(target).query else '?'}{query}")


def _user_routes(app: Flask, state: WecomState, callbacks: Callbacks) -> None:
    def post_event(user: str, xml: str, *, msgid: str | None, repeat: int, **extra):
        outcome = callbacks.deliver(state.callback_url, xml, now=state.now(), repeat=repeat)
        outcome.update(event=xml, reply=None, reply_error=None, reply_applied=None, **extra)
        for attempt in outcome["attempts"]:
            if attempt["status"] != 200 or not attempt["body"].strip():
                continue
            plain, why = callbacks.open_reply(attempt["body"])
            outcome["reply_error"] = outcome["reply_error"] or why
            if plain is not None:
                outcome["reply"] = outcome["reply"] or plain
                outcome["reply_applied"] = state.apply_passive(user, msgid, xmltodict.parse(plain)["xml"])
        return jsonify(outcome)

    def acting_user(userid) -> str:
        if state.mode == "ws":
            member = state.member(userid) if isinstance(userid, str) else None
            if member is None:
                raise ClickRefused(f"{userid!r} is not a member")
            return member
        if not state.callback_url:
            raise ClickRefused("the app has no callback_url configured")
        member = state.member(userid) if isinstance(userid, str) else None
        if member is None:
            raise ClickRefused(f"{userid!r} is not a member")
        return member

    @app.errorhandler(ClickRefused)
    def refused(exc):
        return _bad(str(exc))

    @app.post("/sandbox/click")
    def click():
        body = _admin_body()
        user = acting_user(body.get("user"))
        task_id, key, selected = body.get("task_id"), body.get("key"), body.get("selected") or {}
        if not isinstance(task_id, str) or not isinstance(key, str):
            return _bad("task_id and key required")
        if not isinstance(selected, dict) or not all(
                isinstance(v, list) and all(isinstance(i, str) for i in v) for v in selected.values()):
            return _bad("selected must map question_key to a list of option ids")
        if state.mode == "ws":
            frame = state.gateway.click(user, task_id, key, selected, repeat=int(body.get("repeat", 1)))
            return jsonify({"frame": frame, "req_id": frame["headers"]["req_id"]})
        fields = state.prepare_click(user, task_id, key, selected)
        return post_event(user, click_xml(state.corp_id, state.agent_id, fields), msgid=fields["msgid"],
                          repeat=int(body.get("repeat", 1)), response_code=fields["response_code"])

    @app.post("/sandbox/text")
    def text():
        body = _admin_body()
        user = acting_user(body.get("user"))
        if not isinstance(body.get("content"), str) or not body["content"]:
            return _bad("content required")
        if state.mode == "ws":
            frame = state.gateway.message(user, "text", {"content": body["content"]}, repeat=int(body.get("repeat", 1)))
            return jsonify({"frame": frame, "msgid_sent": frame["body"]["msgid"]})
        entry = state.record_from_user(user, "text", {"content": body["content"]})
        return post_event(user, message_xml(state.corp_id, state.agent_id, entry), msgid=None,
                          repeat=int(body.get("repeat", 1)), msgid_sent=entry["msgid"])

    @app.post("/sandbox/image")
    def image():
        user = acting_user(request.form.get("user"))
        upload = request.files.get("media")
        if upload is None:
            return _bad("multipart field media required")
        try:
            stored = state.media.upload("image", upload.filename or "image.jpg",
                                        upload.mimetype or "image/jpeg", upload.read())
        except ApiError as exc:
            return _bad(exc.body()["errmsg"])
        if state.mode == "ws":
            frame = state.gateway.message(user, "image", {"media_id": stored["media_id"], "base": request.host_url},
                                          repeat=int(request.form.get("repeat", 1)))
            return jsonify({"frame": frame, "msgid_sent": frame["body"]["msgid"], "media_id": stored["media_id"]})
        pic_url = f"{request.host_url}sandbox/media/{stored['media_id']}"
        entry = state.record_from_user(user, "image", {"media_id": stored["media_id"], "pic_url": pic_url})
        return post_event(user, message_xml(state.corp_id, state.agent_id, entry), msgid=None,
                          repeat=int(request.form.get("repeat", 1)), msgid_sent=entry["msgid"],
                          media_id=stored["media_id"])


def _ws_routes(app: Flask, state: WecomState) -> None:
    gateway = state.gateway

    @app.get("/sandbox/ws")
    def ws_snapshot():
        return jsonify(gateway.snapshot())

    @app.post("/sandbox/ws/faults")
    def ws_faults():
        body = _admin_body()
        with gateway.lock:
            gateway.faults["drop_on"] = body.get("drop_on") or None
        return jsonify(gateway.faults)

    @app.post("/sandbox/ws/drop")
    def ws_drop():
        body = _admin_body()
        return jsonify({"dropped": gateway.drop(code=int(body.get("code", 1011)),
                                                reason=str(body.get("reason") or "sandbox fault: dropped"))})

    @app.post("/sandbox/ws/raw")
    def ws_raw():
        gateway.raw(_admin_body())
        return jsonify({"sent": True})

    @app.get("/sandbox/ws-media/<media_id>")
    def ws_media(media_id):
        data = gateway.encrypted.get(media_id)
        if data is None:
            return jsonify({"errcode": 40007, "errmsg": "invalid media_id"}), 404
        return Response(data, mimetype="application/octet-stream")
