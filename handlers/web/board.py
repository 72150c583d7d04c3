"""The board page (现场公示牌), its QR code and printable permit, and check-in by scanning the QR code.

  GET  /board/<no>?t=|s=        the board; with s (the QR code's link) opened inside WeCom or DingTalk,
                                it goes through that app's OAuth first and then offers 现场签到 / 离开现场
  GET  /board/<no>/live?t=|s=   the self-refreshing part, with an ETag (304 when nothing changed)
  GET  /board/<no>/scan?s=      start the OAuth round trip from a browser that did not start it itself
  POST /board/<no>/checkin?s=   现场签到 (action=in) or 离开现场 (action=out), as the person OAuth named
  GET  /board/<no>/qr.png?p=|s= the QR code of the site link; /print?p=|s= the A4 permit with it

A bad, tampered or lapsed token is a bare 404, the same as an unknown permit (cards/links.py).
Who scanned is kept for WHO_SECONDS in a signed cookie bound to this permit's path: it proves the
phone came through OAuth from this permit's site code, never from a card's link. The OAuth round trip
and 一键应急 take a Site, so an area's board (area_board.py) proves presence and raises one the same way.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file
from itsdangerous import BadSignature, URLSafeTimedSerializer

import settings
from bot.base import PlatformError
from bot.registry import ACCOUNT, adapter_for
from cards import links
from models import Person, utcnow
from models.area import Area
from models.isolation import IsolationLink, IsolationPoint
from models.permit import Permit
from emergency import stop
from park.enterprises import media_file
from workflow import WorkflowError, onsite, places
from workflow.states import COMMANDS

from .board_view import BoardView

bp = Blueprint("board", __name__, template_folder="templates")
WHO_COOKIE, STATE_COOKIE = "board_who", "board_oauth"
WHO_SECONDS, STATE_SECONDS = 600, 300    # a WeCom OAuth code itself lives 5 minutes
POLL_SECONDS = 5
DONE = {"in": "签到成功", "visit": "已登记到访：您不在本作业票上，到访不作为签到",
        "out": "已登记离开现场", "stop": "已登记离开现场：监护人离开，作业已暂停",
        "sos": "已发起应急：区域内作业已全部暂停，相关人员已收到撤离通知。请立即撤离到安全区",
        "sos-joined": "该区域已有未解除的应急，您的报告已并入。请立即撤离到安全区"}


@dataclass(frozen=True)
class Site:
    """A page whose link proves presence at a place (a permit's site code, an area's board), and its OAuth.

    key: what the who-cookie is bound to; path: the cookie's path; home: the page's own address with its
    proving token; page: renders that page for a viewer, with a problem and a status; proved: told of
    each person the OAuth proved, with the platform, where the proof must outlive the cookie; code: the
    printed code a refusal asks to scan again.
    """
    key: str
    path: str
    home: str
    page: Callable[..., Response]
    proved: Callable[[Person, str], None] | None = None
    code: str = "现场的二维码"   # what to scan again, named in the refusals

    def to(self, extra: str = "") -> str:
        return f"{self.home}{extra}"


def _permit_site(permit: Permit) -> Site:
    return Site(key=permit.no, path=_cookie_path(permit), home=_site_path(permit),
                page=lambda **kw: _page(permit, "site", **kw))


def _open(no: str, purposes: tuple[str, ...]) -> tuple[Permit, str]:
    found = links.opened(no, request.args, purposes)
    if found is None:
        abort(404)
    return found


def _who_serializer() -> URLSafeTimedSerializer:
    # Per enterprise: two enterprises' permits may share a number, and a person id means another person.
    code = links.enterprise()
    return URLSafeTimedSerializer(settings.signing_key(), salt=f"board-who-{code}" if code else "board-who")


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(links.enterprise_of(request.args))


def enter_enterprise(code: str | None) -> None:
    """Open a park enterprise's link on its database (and with its apps); an unknown code is a bare 404."""
    from contextlib import ExitStack
    from flask import g
    from models import database
    from park import enterprises
    if code is None:
        return
    if enterprises.database_of(code) is None:
        abort(404)
    if not database.is_closed():
        database.close()   # the deployment's connection, opened for every request
    scope = ExitStack()
    scope.enter_context(enterprises.entered(code))
    g.board_enterprise = scope
    database.connect(reuse_if_open=True)


@bp.teardown_request
def leave_enterprise(_exc) -> None:
    from flask import g
    scope = g.pop("board_enterprise", None)
    if scope is not None:
        scope.close()


def _canonical_who(raw: str) -> bool:
    # The signature exactly as issued: a lenient base64 decoder accepts twins of it (padding bits,
    # stray characters), and one proof of presence must have one spelling.
    value, _, signature = raw.rpartition(".")
    expected = _who_serializer().make_signer().get_signature(value)
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def _cookie_path(permit: Permit) -> str:
    return f"/board/{permit.no}"


def _site_path(permit: Permit, extra: str = "") -> str:
    return f"/board/{permit.no}?s={links.token(permit, 'site')}{extra}"


def _here() -> str:
    """Return the base URL the phone used: PUBLIC_BASE_URL when it is that host, else the request's."""
    public = settings.current().public_base_url
    return public if urlsplit(public).netloc == request.host else request.host_url.rstrip("/")


# The code each platform's OAuth page hands back, in the query of the redirect.
CODE_PARAM = {"wecom": "code", "dingtalk": "authCode"}
APP_NAME = {"wecom": "企业微信", "dingtalk": "钉钉"}


def _browser_app() -> str | None:
    """Return the chat app whose built-in browser opened the page (its User-Agent says so), if any."""
    agent = request.headers.get("User-Agent", "").lower()
    if "wxwork" in agent:
        return "wecom"
    return "dingtalk" if "dingtalk" in agent else None


def _scan_platform() -> str | None:
    """The platform to prove who scanned: the app the page is open in, else the plant's usual one."""
    conf = settings.current()
    for platform in (_browser_app(), conf.default_platform, "wecom", "dingtalk"):
        if platform and getattr(conf, platform):
            return platform
    return None


def app_names() -> str:
    conf = settings.current()
    return "或".join(APP_NAME[p] for p in ("wecom", "dingtalk") if getattr(conf, p)) or "企业微信"


def viewer(site: Site) -> Person | None:
    """Return who this phone proved to be at this site's code, within WHO_SECONDS."""
    raw = request.cookies.get(WHO_COOKIE)
    if not raw:
        return None
    if not _canonical_who(raw):
        return None
    try:
        who = _who_serializer().loads(raw, max_age=WHO_SECONDS)
    except BadSignature:
        return None
    if not isinstance(who, dict) or who.get("n") != site.key:
        return None
    return Person.get_or_none((Person.id == who.get("p")) & (Person.active == True))  # noqa: E712


def _page(permit: Permit, purpose: str, *, viewer: Person | None = None, status: int = 200,
          problem: tuple[str, str] | None = None) -> Response:
    view = BoardView(permit, utcnow())
    context = view.live()
    token_param = f"{links.PARAMS[purpose]}={links.token(permit, purpose)}"
    jsapi = _jsapi(viewer) if viewer is not None and permit.state in COMMANDS["check_in"] else None
    html = render_template("board/board.html", **context, purpose=purpose, problem=problem, photo_query=token_param,
                           jsapi=jsapi,
                           live_url=f"/board/{permit.no}/live?{token_param}", poll_seconds=POLL_SECONDS,
                           me=_me(permit, viewer, view) if viewer else None,
                           done=DONE.get(request.args.get("m", "")),
                           can_scan=purpose == "site" and _scan_platform() is not None, apps=app_names(),
                           scan_url=f"/board/{permit.no}/scan?{token_param}",
                           checkin_url=f"/board/{permit.no}/checkin?{token_param}",
                           emergency_url=f"/board/{permit.no}/emergency?{token_param}",
                           area=getattr(places.area_of(permit), "name", ""),
                           print_url=f"/board/{permit.no}/print?{token_param}" if purpose == "site" else "")
    return Response(html, status=status, mimetype="text/html")


def _jsapi(viewer: Person) -> dict | None:
    """Return the signed JS-SDK config of the app the page is open in, to read the phone's position there.

    Without it (another browser, or the platform failed to hand out a ticket) the page asks the browser.
    """
    adapter = adapter_for(_browser_app() or "")
    if adapter is None or not hasattr(adapter, "jsapi_config"):
        return None
    try:
        return adapter.jsapi_config(_here() + request.full_path.rstrip("?"))
    except PlatformError:
        return None


def _me(permit: Permit, person: Person, view: BoardView) -> dict:
    roles = onsite.roles_on(permit, person)
    mark = onsite.last_mark(permit, person, view.now)
    guardian = onsite.GUARDIAN in roles
    return {"name": person.name, "roles": "、".join(roles), "on_permit": bool(roles),
            "presence": view.presence(person) if roles else None,
            "can_mark": permit.state in COMMANDS["check_in"], "can_leave": mark == "in",
            "leaving_stops": guardian and permit.state == "in_progress",
            "can_drill": stop.may_drill(person, places.area_of(permit))}


@bp.get("/board/<no>")
def board(no: str):
    """Show the board; a site link opened in WeCom or DingTalk first learns who scanned through OAuth."""
    permit, purpose = _open(no, ("view", "site"))
    if purpose != "site":
        return _page(permit, purpose)
    site = _permit_site(permit)
    return through_oauth(site) or _page(permit, purpose, viewer=viewer(site))


def through_oauth(site: Site) -> Response | None:
    """Finish or start the OAuth round trip of a site link opened in WeCom or DingTalk; None when done."""
    for platform, param in CODE_PARAM.items():
        if param in request.args and adapter_for(platform) is not None:
            return _came_back(site, platform)
    app = _browser_app()
    if viewer(site) is None and app is not None and adapter_for(app) is not None:
        return to_oauth(site, app)
    return None


@bp.get("/board/<no>/scan")
def scan(no: str):
    """Start the OAuth round trip (the 现场签到 button of a board opened outside the apps' own browsers)."""
    permit, _purpose = _open(no, ("site",))
    return start_oauth(_permit_site(permit), "无法签到")


def start_oauth(site: Site, refusal: str) -> Response:
    """Start the OAuth round trip from a browser that did not start it itself (a button on the page)."""
    platform = _scan_platform()
    if platform is None:
        return site.page(status=400, problem=(refusal, "本系统未接入企业微信或钉钉，无法扫码确认身份。"))
    return to_oauth(site, platform)


def to_oauth(site: Site, platform: str) -> Response:
    state = secrets.token_hex(16)   # WeCom allows [a-zA-Z0-9], at most 128 bytes
    answer = redirect(adapter_for(platform).oauth_url(_here() + site.home, state))
    answer.set_cookie(STATE_COOKIE, state, max_age=STATE_SECONDS, path=site.path, httponly=True,
                      samesite="Lax", secure=request.is_secure)
    return answer


def _came_back(site: Site, platform: str) -> Response:
    """Resolve the OAuth code into a person of the org, only in the browser that asked for it."""
    app = APP_NAME[platform]
    expected = request.cookies.get(STATE_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, request.args.get("state", "")):
        # A code that arrives without this browser's state was handed over by someone else.
        return site.page(status=403, problem=(
            "无法确认身份", f"这个链接不是在本手机上扫码打开的，请用{app}重新扫描{site.code}。"))
    try:
        user_id = adapter_for(platform).user_from_oauth_code(request.args.get(CODE_PARAM[platform], ""))
    except PlatformError:
        return site.page(status=403, problem=(
            "无法确认身份", f"扫码链接已失效或已使用过，或您不是本企业成员，请重新扫描{site.code}。"))
    account = getattr(Person, ACCOUNT[platform])
    person = Person.get_or_none((account == user_id) & (Person.active == True))  # noqa: E712
    if person is None:
        return site.page(status=403, problem=("不在组织架构中", "您的账号不在本厂组织架构中或已停用。"))
    if site.proved is not None:
        site.proved(person, platform)
    answer = redirect(site.home)   # drop the spent code from the address bar and history
    answer.set_cookie(WHO_COOKIE, _who_serializer().dumps({"p": person.id, "n": site.key}),
                      max_age=WHO_SECONDS, path=site.path, httponly=True, samesite="Lax",
                      secure=request.is_secure)
    answer.delete_cookie(STATE_COOKIE, path=site.path)
    return answer


def posted_by(site: Site) -> Person | None:
    """Return who this phone proved to be, for a form posted from the site's own page.

    A form posted from another origin is refused: the page's cookie proves a person, not their intent.
    """
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(site.page(status=403, problem=("未能办理", "请在扫码打开的页面上操作。")))
    return viewer(site)


def _posted_on_site(no: str):
    """Return the permit of a form posted from its own site page, and who this phone proved to be (or None)."""
    permit, _purpose = _open(no, ("site",))
    return permit, posted_by(_permit_site(permit))


@bp.post("/board/<no>/checkin")
def checkin(no: str):
    """Record 现场签到 or 离开现场 for the person this phone proved to be."""
    permit, person = _posted_on_site(no)
    if person is None:
        return _page(permit, "site", status=403, problem=(
            "请重新扫码", f"签到须在扫码后 10 分钟内完成，请用{app_names()}重新扫描作业现场的二维码。"))
    action = request.form.get("action")
    if action not in ("in", "out"):
        abort(400)
    place = {k: request.form.get(k) for k in ("latitude", "longitude", "accuracy", "datum", "mock")}
    location = place if place["latitude"] and place["longitude"] else None
    command = onsite.check_in if action == "in" else onsite.check_out
    try:
        out = command(permit.no, by=person, source="scan", location=location)
    except WorkflowError as exc:
        return _page(permit, "site", viewer=person, status=409, problem=("未能登记", exc.message))
    done = action
    if action == "out" and permit.state == "in_progress" and out.state == "suspended":
        done = "stop"
    elif action == "in" and not onsite.roles_on(permit, person):
        done = "visit"
    return redirect(_site_path(permit, f"&m={done}"), code=303)


@bp.post("/board/<no>/emergency")
def emergency(no: str):
    """一键应急 from the site's board, as the person this phone proved to be; confirmed and described."""
    permit, _purpose = _open(no, ("site",))
    return sos(_permit_site(permit), places.area_of(permit))


def sos(site: Site, node: Area | None) -> Response:
    """Raise an emergency for node from a site page, as the person its OAuth named; refuse a bad form."""
    person = posted_by(site)
    if person is None:
        return site.page(status=403, problem=(
            "请重新扫码", f"发起应急须先用{app_names()}扫描现场的二维码确认身份；情况紧急请立即电话报告安全员。"))
    said = " ".join((request.form.get("text") or "").split())[:200]
    refusal = None
    if request.form.get("confirm") != "1":
        refusal = "请勾选确认：发起后区域内作业将全部暂停"
    elif not said:
        refusal = "请说明情况，例如：东侧法兰泄漏，有火苗"
    if refusal is None and node is None:
        refusal = "本作业票的地点不在区域表中，请立即电话报告安全员"
    if refusal is not None:
        return site.page(viewer=person, status=400, problem=("未发起应急", refusal))
    try:
        raised = stop.raise_emergency(f"{node.name} {said}", by=person, drill=request.form.get("drill") == "1",
                                      door="board")
    except WorkflowError as exc:
        return site.page(viewer=person, status=403 if exc.__class__.__name__ == "NotAuthorized"
                         else 409, problem=("未发起应急", exc.message))
    return redirect(site.to(f"&m={'sos-joined' if raised.joined else 'sos'}"), code=303)


@bp.get("/board/<no>/live")
def live(no: str):
    """Return the board's changing part; the ETag is its hash, so a 304 means nothing changed."""
    permit, purpose = _open(no, ("view", "site"))
    html = render_template("board/_live.html", **BoardView(permit, utcnow()).live(),
                           photo_query=f"{links.PARAMS[purpose]}={links.token(permit, purpose)}")
    answer = Response(html, mimetype="text/html")
    answer.set_etag(hashlib.sha256(html.encode()).hexdigest()[:32])
    answer.headers["Cache-Control"] = "no-cache"
    return answer.make_conditional(request)


@bp.get("/board/<no>/isolation/<int:point_id>/photo")
def isolation_photo(no: str, point_id: int):
    """Return the photo of one of the permit's isolation points (its lock and tag)."""
    permit, _purpose = _open(no, ("view", "site"))
    point = (IsolationPoint.select().join(IsolationLink)
             .where((IsolationPoint.id == point_id) & (IsolationLink.permit == permit)).first())
    if point is None or point.photo is None:
        abort(404)
    path = media_file(point.photo.path)
    if not path.is_file():
        abort(404)
    answer = send_file(path, mimetype=mimetypes.guess_type(point.photo.filename)[0] or "image/jpeg")
    answer.headers["Cache-Control"] = "private, max-age=3600"
    return answer


def qr_png(text: str) -> bytes:
    """Return a PNG of the QR code of text (medium error correction, the standard quiet zone)."""
    import qrcode
    from qrcode.image.pure import PyPNGImage
    image = qrcode.make(text, image_factory=PyPNGImage, box_size=10, border=4,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


@bp.get("/board/<no>/qr.png")
def qr(no: str):
    """Return the QR code of the permit's site link, to print and post at the work site."""
    permit, _purpose = _open(no, ("print", "site"))
    answer = Response(qr_png(links.url(permit, "site")), mimetype="image/png")
    answer.headers["Cache-Control"] = "private, max-age=3600"
    return answer


@bp.get("/board/<no>/print")
def printable(no: str):
    """Return the permit as an A4 page with its QR code (GB 30871 Appendix A practice)."""
    permit, _purpose = _open(no, ("print", "site"))
    view = BoardView(permit, utcnow())
    site_url = links.url(permit, "site")
    image = base64.b64encode(qr_png(site_url)).decode()
    return render_template("board/print.html", **view.live(), checklists=view.checklists(),
                           qr_data=f"data:image/png;base64,{image}", site_url=site_url, apps=app_names(),
                           plant=settings.current().plant_name)
