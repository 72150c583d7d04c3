"""A pre-shift meeting's page, and the code shown at its place: scanning it checks an attendee in.

  GET  /meeting/<id>?v=          the meeting's page to read (the card's link): permits, hazards, attendees
  GET  /meeting/<id>?m=          the code at the meeting's place; opened in WeCom or DingTalk it goes through
                                 that app's OAuth (as a permit's site code), and the person it proves is
                                 checked in to the meeting when they are on its list
  GET  /meeting/<id>/qr.png?m=   the QR code of that link, to show or print at the place

A forged link or an unknown meeting is a bare 404, as for a permit's board; an enterprise's link opens
on its database.
"""
from __future__ import annotations

import settings
from flask import Blueprint, Response, abort, render_template, request

from cards import links as board_links
from meetings import links, preshift
from models import Person, utcnow
from models.meeting import Meeting, MeetingAttendee
from workflow import WorkflowError
from workflow.clock import local

from .board import Site, app_names, enter_enterprise, leave_enterprise, qr_png, through_oauth, viewer

bp = Blueprint("meeting", __name__, template_folder="templates")


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(board_links.enterprise_of(request.args, links.PARAMS.values()))


bp.teardown_request(leave_enterprise)


def _open(meeting_id: int, purposes: tuple[str, ...]) -> tuple[Meeting, str]:
    found = links.opened(meeting_id, request.args, purposes)
    if found is None:
        abort(404)
    return found


def _proved(meeting: Meeting, person: Person, platform: str) -> None:
    try:
        preshift.check_in(meeting.id, by=person, platform=platform, now=utcnow())
    except WorkflowError:
        pass   # nothing is recorded; the page then says why to the person it proved


def _site(meeting: Meeting) -> Site:
    return Site(key=f"meeting:{meeting.id}", path=f"/meeting/{meeting.id}", home=links.path(meeting, "place"),
                page=lambda **kw: _page(meeting, "place", **kw),
                proved=lambda person, platform: _proved(meeting, person, platform))


def _state(row: MeetingAttendee, tz) -> str:
    if row.confirmed_at:
        return f"已确认（{local(row.confirmed_at, tz):%H:%M}）"
    return f"已签到（{local(row.checked_in_at, tz):%H:%M}），待确认" if row.checked_in_at else "未签到"


def _page(meeting: Meeting, purpose: str, *, viewer: Person | None = None, status: int = 200,
          problem: tuple[str, str] | None = None) -> Response:
    from exports import knowledge
    tz = settings.current().plant_tz
    rows = preshift.attendees(meeting)
    done = None
    if purpose == "place" and viewer is not None and problem is None:
        mine = next((r for r in rows if r.person_id == viewer.id), None)
        if mine is None:
            status, problem = 403, ("未签到", f"{viewer.name} 不在本次班前会的人员名单中（名单为该班组当天作业票上的作业人和监护人）")
        elif mine.checked_in_at is None:
            status, problem = 409, ("未签到", f"这是 {meeting.day:%Y-%m-%d} 的班前会二维码，已过期")
        else:
            done = f"{viewer.name} 签到成功，请在班前会卡片上点击“确认参会”" if mine.confirmed_at is None \
                else f"{viewer.name} 已签到并确认参会"
    html = render_template("meeting/meeting.html", meeting=meeting, purpose=purpose, viewer=viewer, problem=problem,
                           done=done, apps=app_names(), held_at=f"{local(meeting.held_at, tz):%H:%M}",
                           agenda="\n".join(preshift.agenda(
                               meeting, knowledge_for=lambda code: knowledge.for_work_type(code, limit=3))),
                           rows=[{"name": r.person.name, "roles": r.roles, "state": _state(r, tz)} for r in rows],
                           confirmed=sum(1 for r in rows if r.confirmed_at))
    return Response(html, status=status, mimetype="text/html")


@bp.get("/meeting/<int:meeting_id>")
def meeting_page(meeting_id: int):
    """Show the meeting; its place code opened in WeCom or DingTalk first checks the person in through OAuth."""
    meeting, purpose = _open(meeting_id, ("view", "place"))
    if purpose != "place":
        return _page(meeting, purpose)
    site = _site(meeting)
    return through_oauth(site) or _page(meeting, purpose, viewer=viewer(site))


@bp.get("/meeting/<int:meeting_id>/qr.png")
def qr(meeting_id: int):
    """Return the QR code of the meeting's place link, to show or print where it is held."""
    meeting, _purpose = _open(meeting_id, ("place",))
    answer = Response(qr_png(links.url(meeting, "place")), mimetype="image/png")
    answer.headers["Cache-Control"] = "private, max-age=3600"
    return answer
