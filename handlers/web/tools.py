"""A safety tool's page, opened by scanning its QR label in WeCom or DingTalk: 领用 and 归还.

  GET  /tools/<no>?k=        the tool; opened inside WeCom or DingTalk it goes through that app's OAuth
                             first (as the site code of a permit does), then offers 领用 or 归还
  POST /tools/<no>/loan?k=   领用 (action=out) or 归还 (action=in), as the person OAuth named

A forged or unknown label is a 404 page that says so in plain Chinese; an enterprise's label opens on
its database (an unknown enterprise is a bare 404). Who scanned is proved as on a
permit's board (board.Site): a signed cookie bound to this tool's path, for board.WHO_SECONDS.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from cards import links
from models import Person, utcnow
from models.tool import Tool
from tools import labels, loans
from workflow import WorkflowError

from .board import Site, app_names, enter_enterprise, leave_enterprise, posted_by, through_oauth, viewer

bp = Blueprint("tools", __name__, template_folder="templates")
DONE = {"out": "领用成功", "in": "已归还"}
STATUS = {"NotFound": 404, "NotAuthorized": 403}


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(links.code_in(request.args.get(labels.PARAM)))


bp.teardown_request(leave_enterprise)


def _path(tool: Tool, extra: str = "", *, action: str = "") -> str:
    return f"/tools/{quote(tool.no)}{action}?{labels.PARAM}={labels.token(tool.no)}{extra}"


def _site(tool: Tool) -> Site:
    # The same OAuth round trip and who-cookie as a permit's site code, bound to this tool's path.
    return Site(key=f"tool:{tool.no}", path=f"/tools/{quote(tool.no)}", home=_path(tool),
                page=lambda **kw: _page(tool, **kw), code="工器具上的二维码")


def _forged() -> Response:
    html = render_template("tools/tool.html", tool=None, problem=(
        "二维码无效", "这不是本厂登记的工器具标签，或标签已被篡改。请联系工器具保管人核实。"))
    return Response(html, status=404, mimetype="text/html")


def _page(tool: Tool, *, viewer: Person | None = None, status: int = 200,
          problem: tuple[str, str] | None = None) -> Response:
    now = utcnow()
    html = render_template("tools/tool.html", tool=tool, problem=problem, viewer=viewer, apps=app_names(),
                           expired=loans.expired(tool, now), done=DONE.get(request.args.get("m", "")),
                           out_at=loans.when(tool.out_at) if tool.out_at else "", loan_url=_path(tool, action="/loan"))
    return Response(html, status=status, mimetype="text/html")


@bp.get("/tools/<no>")
def tool_page(no: str):
    """Show the tool; opened in WeCom or DingTalk, first learn who scanned through that app's OAuth."""
    tool = labels.opened(no, request.args)
    if tool is None:
        return _forged()
    site = _site(tool)
    return through_oauth(site) or _page(tool, viewer=viewer(site))


@bp.post("/tools/<no>/loan")
def loan(no: str):
    """Record 领用 or 归还 for the person this phone proved to be."""
    tool = labels.opened(no, request.args)
    if tool is None:
        return _forged()
    by = posted_by(_site(tool))
    if by is None:
        return _page(tool, status=403, problem=(
            "请重新扫码", f"领用和归还须在扫码后 10 分钟内办理，请用{app_names()}重新扫描工器具上的二维码。"))
    action = request.form.get("action")
    if action not in DONE:
        return _page(tool, viewer=by, status=400, problem=("未能办理", "请点“领用”或“归还”按钮。"))
    try:
        (loans.check_out if action == "out" else loans.give_back)(tool.no, by=by, now=utcnow())
    except WorkflowError as exc:
        return _page(Tool.get_by_id(tool.id), viewer=by, status=STATUS.get(type(exc).__name__, 409),
                     problem=("未能办理", exc.message))
    return redirect(_path(tool, f"&m={action}"), code=303)
