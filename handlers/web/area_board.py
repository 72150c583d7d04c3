"""The area board: one page per place for a tablet at its entrance, refreshing itself like a permit's board.

Opened only by its signed link (`python app.py area-board 区域` prints it). The link is posted at the
area's entrance, so, like a permit's site code, it proves presence: opened in WeCom or DingTalk it goes
through the permit board's OAuth and then offers 一键应急 for the area, with the same rules; each
opening so proved is recorded as a visit, which counts as an inspector's presence in the area.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, Response, abort, render_template, request
from itsdangerous import Signer

import settings
from cards import links
from models import utcnow
from models.area import Area

from emergency import stop
from hazards import inspections

from .area_view import AreaView
from .board import (DONE, POLL_SECONDS, Site, enter_enterprise, leave_enterprise, sos, start_oauth, through_oauth,
                    viewer)

bp = Blueprint("area_board", __name__)


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(links.code_in(request.args.get("a")))


bp.teardown_request(leave_enterprise)


def token(area: Area) -> str:
    """Return the token that opens area's board (the name too: a rebuilt tree must not reuse a link).

    Issued in a park enterprise, it names the enterprise as a permit's board link does (cards/links.py).
    """
    signer = Signer(settings.signing_key(), salt="area-board", digest_method=hashlib.sha256)
    message = f"area|{area.id}|{area.name}{links.signed_enterprise()}"
    return links.stamped(signer.get_signature(message.encode()).decode())


def url(area: Area, *, base_url: str | None = None) -> str:
    """Return the absolute signed URL of area's board."""
    base = (base_url if base_url is not None else settings.current().public_base_url).rstrip("/")
    return f"{base}/area/{area.id}?a={token(area)}"


def _open(area_id: int) -> Area:
    area = Area.get_or_none((Area.id == area_id) & (Area.active == True))  # noqa: E712
    given = request.args.get("a", "")
    # The exact string only, as for a permit's board: another encoding of the signature opens nothing.
    if area is None or not hmac.compare_digest(token(area).encode(), given.encode("utf-8", "replace")):
        abort(404)
    return area


def _site(area: Area) -> Site:
    return Site(key=f"area:{area.id}", path=f"/area/{area.id}", home=f"/area/{area.id}?a={token(area)}",
                page=lambda **kw: _page(area, **kw),
                proved=lambda person, platform: inspections.visited(area, person, platform))


def _page(area: Area, *, viewer=None, status: int = 200, problem: tuple[str, str] | None = None) -> Response:
    query = f"a={token(area)}"
    me = {"name": viewer.name, "can_drill": stop.may_drill(viewer, area)} if viewer is not None else None
    html = render_template("area/board.html", poll_seconds=POLL_SECONDS, live_url=f"/area/{area.id}/live?{query}",
                           me=me, problem=problem, done=DONE.get(request.args.get("m", "")),
                           emergency_url=f"/area/{area.id}/emergency?{query}",
                           scan_url=f"/area/{area.id}/scan?{query}", **AreaView(area, utcnow()).live())
    return Response(html, status=status, mimetype="text/html")


@bp.get("/area/<int:area_id>")
def board(area_id: int):
    """Show the board; opened in WeCom or DingTalk it first learns who is there through OAuth."""
    area = _open(area_id)
    site = _site(area)
    return through_oauth(site) or _page(area, viewer=viewer(site))


@bp.get("/area/<int:area_id>/scan")
def scan(area_id: int):
    """Start the OAuth round trip from a browser that did not start it itself (the tablet's 一键应急)."""
    return start_oauth(_site(_open(area_id)), "无法确认身份")


@bp.post("/area/<int:area_id>/emergency")
def emergency(area_id: int):
    """一键应急 for the area, as the person this phone proved to be; the permit board's rules."""
    area = _open(area_id)
    return sos(_site(area), area)


@bp.get("/area/<int:area_id>/live")
def live(area_id: int):
    """Return the board's changing part; the ETag is its hash, so a 304 means nothing changed."""
    area = _open(area_id)
    html = render_template("area/_live.html", **AreaView(area, utcnow()).live())
    answer = Response(html, mimetype="text/html")
    answer.set_etag(hashlib.sha256(html.encode()).hexdigest()[:32])
    answer.headers["Cache-Control"] = "no-cache"
    return answer.make_conditional(request)
