"""The muster page (人员清点) of an emergency: who has reported safe, who not; it reloads itself."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, render_template, request

import settings
from cards import links
from emergency.muster import muster, token
from emergency.stop import tag
from models import Emergency, utcnow
from workflow.clock import local

from .board import enter_enterprise, leave_enterprise

bp = Blueprint("muster", __name__, template_folder="templates")


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(links.code_in(request.args.get("t")))


bp.teardown_request(leave_enterprise)


@bp.get("/muster/<int:emergency_id>")
def page(emergency_id: int):
    """Show the muster; a wrong or missing token is a 404, like an unknown emergency."""
    emergency = Emergency.get_or_none(Emergency.id == emergency_id)
    if emergency is None or not hmac.compare_digest(request.args.get("t", ""), token(emergency)):
        abort(404)
    m, tz = muster(emergency), settings.current().plant_tz
    rows = [{"name": e.person.name, "safe": f"{local(e.safe_at, tz):%H:%M:%S}" if e.safe_at else "",
             "late": e.late} for e in m.entries]
    return render_template("muster.html", tag=tag(emergency.drill), area=emergency.area.name,
                           text=emergency.text, raised=f"{local(emergency.raised_at, tz):%m-%d %H:%M}",
                           rows=rows, safe=sum(1 for r in rows if r["safe"]), total=len(rows),
                           closed=emergency.closed_at is not None, handling=emergency.handling,
                           now=f"{local(utcnow(), tz):%H:%M:%S}")
