"""A safety tool's page, opened by scanning its QR label in WeCom or DingTalk: 领用 and 归还.

  GET  /tools/<no>?k=        the tool; opened inside WeCom or DingTalk it goes through that app's OAuth
                             first (as the site code of a permit does), then offers 领用 or 归还
  POST /tools/<no>/loan?k=   领用 (action=out) or 归还 (action=in), as the person OAuth named

A forged or unknown label is a 404 page that says so in plain Chinese. Who scanned is kept for
WHO_SECONDS in a signed cookie bound to this tool's path.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

import settings
from bot.base import PlatformError
from bot.registry import ACCOUNT, adapter_for
from models import Person, utcnow
from models.tool import Tool
from tools import labels, loans
from workflow import WorkflowError

from .board import APP_NAME, CODE_PARAM, STATE_SECONDS, WHO_SECONDS, _app_names, _browser_app, _here

bp = Blueprint("tools", __name__, template_folder="templates")
WHO_COOKIE, STATE_COOKIE = "tool_who", "tool_oauth"
DONE = {"out": "领用成功", "in": "已归还"}
STATUS = {"NotFound": 404, "NotAuthorized": 403}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key(), salt="tool-who")


def _path(tool: Tool, extra: str = "", *, action: str = "") -> str:
    return f"/tools/{quote(tool.no)}{action}?{labels.PARAM}={labels.token(tool.no)}{extra}"


def _cookie_path(tool: Tool) -> str:
    return f"/tools/{quote(tool.no)}"


def _forged() -> Response:
    html = render_template("tools/tool.html", tool=None, problem=(
        "二维码无效", "这不是本厂登记的工器具标签，或标签已被篡改。请联系工器具保管人核实。"))
    return Response(html, status=404, mimetype="text/html")


def _viewer(tool: Tool) -> Person | None:
    raw = request.cookies.get(WHO_COOKIE)
    if not raw:
        return None
    value, _, signature = raw.rpartition(".")
    # The signature exactly as issued, as on the board: one proof has one spelling.
    if not hmac.compare_digest(_serializer().make_signer().get_signature(value), signature.encode("utf-8", "replace")):
        return None
    try:
        who = _serializer().loads(raw, max_age=WHO_SECONDS)
    except BadSignature:
        return None
    if not isinstance(who, dict) or who.get("t") != tool.no:
        return None
    return Person.get_or_none((Person.id == who.get("p")) & (Person.active == True))  # noqa: E712


def _page(tool: Tool, *, viewer: Person | None = None, status: int = 200,
          problem: tuple[str, str] | None = None) -> Response:
    now = utcnow()
    html = render_template("tools/tool.html", tool=tool, problem=problem, viewer=viewer, apps=_app_names(),
                           expired=loans.expired(tool, now), done=DONE.get(request.args.get("m", "")),
                           out_at=loans.when(tool.out_at) if tool.out_at else "", loan_url=_path(tool, action="/loan"))
    return Response(html, status=status, mimetype="text/html")


@bp.get("/tools/<no>")
def tool_page(no: str):
    """Show the tool; opened in WeCom or DingTalk, first learn who scanned through that app's OAuth."""
    tool = labels.opened(no, request.args)
    if tool is None:
        return _forged()
    for platform, param in CODE_PARAM.items():
        if param in request.args and adapter_for(platform) is not None:
            return _came_back(tool, platform)
    viewer, app = _viewer(tool), _browser_app()
    if viewer is None and app is not None and adapter_for(app) is not None:
        return _to_oauth(tool, app)
    return _page(tool, viewer=viewer)


def _to_oauth(tool: Tool, platform: str) -> Response:
    state = secrets.token_hex(16)
    answer = redirect(adapter_for(platform).oauth_url(_here() + _path(tool), state))
    answer.set_cookie(STATE_COOKIE, state, max_age=STATE_SECONDS, path=_cookie_path(tool), httponly=True,
                      samesite="Lax", secure=request.is_secure)
    return answer


def _came_back(tool: Tool, platform: str) -> Response:
    """Resolve the OAuth code into a person of the org, only in the browser that asked for it."""
    app = APP_NAME[platform]
    expected = request.cookies.get(STATE_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, request.args.get("state", "")):
        return _page(tool, status=403, problem=("无法确认身份", f"请用{app}重新扫描工器具上的二维码。"))
    try:
        user_id = adapter_for(platform).user_from_oauth_code(request.args.get(CODE_PARAM[platform], ""))
    except PlatformError:
        return _page(tool, status=403, problem=(
            "无法确认身份", "扫码链接已失效或已使用过，或您不是本企业成员，请重新扫描工器具上的二维码。"))
    person = Person.get_or_none((getattr(Person, ACCOUNT[platform]) == user_id) & (Person.active == True))  # noqa: E712
    if person is None:
        return _page(tool, status=403, problem=("不在组织架构中", "您的账号不在本厂组织架构中或已停用。"))
    answer = redirect(_path(tool))
    answer.set_cookie(WHO_COOKIE, _serializer().dumps({"p": person.id, "t": tool.no}), max_age=WHO_SECONDS,
                      path=_cookie_path(tool), httponly=True, samesite="Lax", secure=request.is_secure)
    answer.delete_cookie(STATE_COOKIE, path=_cookie_path(tool))
    return answer


@bp.post("/tools/<no>/loan")
def loan(no: str):
    """Record 领用 or 归还 for the person this phone proved to be."""
    tool = labels.opened(no, request.args)
    if tool is None:
        return _forged()
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        return _page(tool, status=403, problem=("未能办理", "请在扫码打开的页面上操作。"))
    viewer = _viewer(tool)
    if viewer is None:
        return _page(tool, status=403, problem=(
            "请重新扫码", f"领用和归还须在扫码后 10 分钟内办理，请用{_app_names()}重新扫描工器具上的二维码。"))
    action = request.form.get("action")
    if action not in DONE:
        return _page(tool, viewer=viewer, status=400, problem=("未能办理", "请点“领用”或“归还”按钮。"))
    try:
        (loans.check_out if action == "out" else loans.give_back)(tool.no, by=viewer, now=utcnow())
    except WorkflowError as exc:
        return _page(Tool.get_by_id(tool.id), viewer=viewer, status=STATUS.get(type(exc).__name__, 409),
                     problem=("未能办理", exc.message))
    return redirect(_path(tool, f"&m={action}"), code=303)
