"""The area board: one page per place for a tablet at its entrance, refreshing itself like a permit's board.

Opened only by its signed link (`python app.py area-board 区域` prints it), read only.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, Response, abort, render_template, request
from itsdangerous import Signer

import settings
from models import utcnow
from models.area import Area

from .area_view import AreaView
from .board import POLL_SECONDS

bp = Blueprint("area_board", __name__)


def token(area: Area) -> str:
    """Return the token that opens area's board (the name too: a rebuilt tree must not reuse a link)."""
    signer = Signer(settings.signing_key(), salt="area-board", digest_method=hashlib.sha256)
    return signer.get_signature(f"area|{area.id}|{area.name}".encode()).decode()


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


@bp.get("/area/<int:area_id>")
def board(area_id: int):
    area = _open(area_id)
    return render_template("area/board.html", poll_seconds=POLL_SECONDS,
                           live_url=f"/area/{area.id}/live?a={token(area)}", **AreaView(area, utcnow()).live())


@bp.get("/area/<int:area_id>/live")
def live(area_id: int):
    """Return the board's changing part; the ETag is its hash, so a 304 means nothing changed."""
    area = _open(area_id)
    html = render_template("area/_live.html", **AreaView(area, utcnow()).live())
    answer = Response(html, mimetype="text/html")
    answer.set_etag(hashlib.sha256(html.encode()).hexdigest()[:32])
    answer.headers["Cache-Control"] = "no-cache"
    return answer.make_conditional(request)
