"""Findings (隐患) and emergencies (应急) in /api/v1: read both, and report a finding as 隐患 in chat does."""
from __future__ import annotations

from flask import g
from flask_smorest import abort

from hazards import findings
from models import Finding, FindingPhoto
from models.emergency import Emergency
from models.hazard import CLOSED, STATE_NAMES
from models.people import NameProblem, resolve
from workflow import WorkflowError, places

from . import schemas as s
from .guard import writes
from .views import bp, iso, page, subtree


def _finding(f: Finding) -> dict:
    return {"no": f.no, "place": f.place, "area": f.area.name if f.area_id else None, "description": f.description,
            "grade": f.grade, "category": f.category, "source": f.source, "state": f.state,
            "state_name": STATE_NAMES[f.state], "blocks_permits": f.blocks_permits,
            "found_by": f.found_by.label() if f.found_by_id else None, "found_at": iso(f.found_at),
            "unit": f.unit.code if f.unit_id else None,
            "responsible": f.responsible.label() if f.responsible_id else None, "deadline": iso(f.deadline),
            "rectified_at": iso(f.rectified_at), "closed_at": iso(f.closed_at), "rejections": f.rejections}


def _detail(f: Finding) -> dict:
    photos = f.photos.order_by(FindingPhoto.created_at, FindingPhoto.id)
    return {**_finding(f), "photos": [{"stage": p.stage, "sha256": p.sha256, "size": p.size,
                                       "uploaded_by": p.uploaded_by.label(), "at": iso(p.created_at)}
                                      for p in photos]}


@bp.route("/findings")
@bp.arguments(s.FindingArgs, location="query")
@bp.response(200, s.FindingPage)
def finding_list(args):
    """List findings (隐患), filtered by state, grade, area (with its sub-areas) and whether still open."""
    query = Finding.select()
    if args.get("state"):
        query = query.where(Finding.state == args["state"])
    if args.get("grade"):
        query = query.where(Finding.grade == args["grade"])
    if args.get("open") is not None:
        query = query.where((Finding.state != CLOSED) if args["open"] else (Finding.state == CLOSED))
    if args.get("area"):
        area = places.node_named(args["area"])
        if area is None:
            return {"items": [], "next_cursor": None}
        query = query.where(Finding.area.in_(subtree(area)))
    return page(query, Finding, args, _finding)


@bp.route("/findings/<string:no>")
@bp.response(200, s.FindingDetail)
def finding_one(no):
    """One finding with its photos (as found and as rectified)."""
    found = Finding.get_or_none(Finding.no == no.strip().upper())
    if found is None:
        abort(404, message=f"没有编号为 {no} 的隐患")
    return _detail(found)


@bp.route("/findings", methods=["POST"])
@bp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 128}}])
@writes
@bp.arguments(s.FindingIn)
@bp.response(201, s.FindingDetail)
def finding_report(data):
    """Report a finding as 隐患 in chat does: the same rules, the same people told.

    The place must be in the plant's area tree; the inspector (found_by) re-checks the rectification.
    The write is audited under the token's name, with the inspector in the event's data.
    """
    try:
        inspector = resolve(data["found_by"])
    except NameProblem as exc:
        abort(422, message=exc.message, field="found_by")
    try:
        findings.place_of(data["place"])
    except WorkflowError as exc:
        abort(422, message=exc.message, field="place")
    options = findings.Options(grade=data["grade"], category=data["category"], blocks_permits=data["blocks_permits"])
    try:
        made = findings.report(f"{data['place']} {data['description'].strip()}", by=inspector, options=options,
                               via=f"api:{g.api_token.name}")
    except WorkflowError as exc:
        # Past the schema and the place, what is left to refuse is a combination: a hold on a 一般 finding.
        abort(422, message=exc.message, field="blocks_permits" if data["blocks_permits"] else None)
    return _detail(made), 201


def _emergency(e: Emergency) -> dict:
    return {"id": e.id, "area": e.area.name, "drill": e.drill, "text": e.text,
            "raised_by": e.raised_by.label() if e.raised_by_id else None, "raised_at": iso(e.raised_at),
            "alarm": e.alarm_id, "permits": list(e.permit_nos), "suspended": list(e.suspended),
            "closed_at": iso(e.closed_at), "closed_by": e.closed_by.label() if e.closed_by_id else None,
            "handling": e.handling}


@bp.route("/emergencies")
@bp.arguments(s.EmergencyArgs, location="query")
@bp.response(200, s.EmergencyPage)
def emergency_list(args):
    """List emergencies and drills (一键应急), newest last; `open=true` keeps those not yet closed."""
    query = Emergency.select()
    if args.get("open") is not None:
        query = query.where(Emergency.closed_at.is_null() if args["open"] else Emergency.closed_at.is_null(False))
    if args.get("drill") is not None:
        query = query.where(Emergency.drill == args["drill"])
    return page(query, Emergency, args, _emergency)


@bp.route("/emergencies/<int:emergency_id>")
@bp.response(200, s.EmergencyOut)
def emergency_one(emergency_id):
    """One emergency: what it stopped, and how it was closed."""
    found = Emergency.get_or_none(Emergency.id == emergency_id)
    if found is None:
        abort(404, message=f"没有第 {emergency_id} 号应急记录")
    return _emergency(found)
