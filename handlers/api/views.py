"""The resources of /api/v1: what a plant's other systems may read, and the people HR may write."""
from __future__ import annotations

import base64
from datetime import datetime, time, timedelta, timezone

from flask import current_app, g
from flask_smorest import Blueprint, abort


from models import (Alarm, AuditEvent, Certificate, Department, GasReading, Permit, Person, Sensor, Signature,
                    Step)
from models.db import utcnow
from workflow import audit, places, template

from . import schemas as s
from .guard import authenticate, unbind_enterprise, writes

bp = Blueprint("api", __name__, url_prefix="/api/v1", description="电子作业票开放接口")
bp.before_request(authenticate)
bp.teardown_request(unbind_enterprise)


def _plant_tz():
    return current_app.config["SETTINGS"].plant_tz


def iso(moment: datetime | None) -> str | None:
    """Stored times are naive UTC; the API speaks ISO-8601 with the plant's offset."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc).astimezone(_plant_tz()).isoformat()


def _cursor(last_id: int | None) -> str | None:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode() if last_id is not None else None


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        abort(422, message="cursor 无效：请使用上一页返回的 next_cursor", field="cursor")


def page(query, model, args: dict, render) -> dict:
    """Cursor pagination by id: stable while rows are added, unlike an offset."""
    limit = min(max(args["limit"], 1), s.MAX_PAGE)   # an oversized page is clamped, not refused
    rows = list(query.where(model.id > _after(args.get("cursor"))).order_by(model.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [render(row) for row in rows], "next_cursor": _cursor(rows[-1].id) if more else None}


def _permit(permit: Permit) -> dict:
    known = template.registry().get(permit.work_type)
    return {"no": permit.no, "type": permit.work_type, "type_name": known.name if known else permit.work_type,
            "grade": permit.grade, "state": permit.state,
            "unit": permit.unit.code, "location": permit.location,
            "area": permit.area.name if permit.area_id else None, "applicant": permit.applicant.label(),
            "planned_start": iso(permit.planned_start), "planned_end": iso(permit.planned_end),
            "created_at": iso(permit.created_at), "closed_at": iso(permit.closed_at)}


def subtree(area) -> list[int]:
    """Return the ids of area and every place below it."""
    from models import Area
    ids, frontier = [area.id], [area.id]
    while frontier:
        frontier = [a.id for a in Area.select(Area.id).where(Area.parent.in_(frontier))]
        ids += frontier
    return ids


@bp.route("/permits")
@bp.arguments(s.PermitArgs, location="query")
@bp.response(200, s.PermitPage)
def permits(args):
    """List permits, filtered by state, type, area (with its sub-areas), unit and plant-local day."""
    query = Permit.select()
    if args.get("state"):
        query = query.where(Permit.state == args["state"])
    if args.get("type"):
        # Either the template's code (hot_work) or its name as a plant says it (动火作业).
        codes = [code for code, t in template.registry().items() if args["type"] in (code, t.name)]
        query = query.where(Permit.work_type.in_(codes or [args["type"]]))
    if args.get("unit"):
        query = query.join(Department).where(Department.code == args["unit"]).switch(Permit)
    if args.get("area"):
        area = places.node_named(args["area"])
        if area is None:
            return {"items": [], "next_cursor": None}
        query = query.where(Permit.area.in_(subtree(area)))
    if args.get("date"):
        start = datetime.combine(args["date"], time(0), tzinfo=_plant_tz()).astimezone(timezone.utc)
        start = start.replace(tzinfo=None)
        query = query.where(Permit.planned_start < start + timedelta(days=1), Permit.planned_end >= start)
    return page(query, Permit, args, _permit)


@bp.route("/permits/<string:no>")
@bp.response(200, s.PermitDetail)
def permit(no):
    """One permit with its steps, signatures, gas readings and audit events."""
    permit = Permit.get_or_none(Permit.no == no)
    if permit is None:
        abort(404, message=f"没有编号为 {no} 的作业票")
    out = _permit(permit)
    out["content"] = permit.content
    steps = list(permit.steps.order_by(Step.seq))
    out["steps"] = [{"key": st.key, "name": st.name, "state": st.state, "activated_at": iso(st.activated_at),
                     "completed_at": iso(st.completed_at)} for st in steps]
    key_of = {st.id: st.key for st in steps}
    out["signatures"] = [{"step": key_of.get(sig.step_id, ""), "person": sig.person.label(),
                          "decision": sig.decision, "comment": sig.comment, "channel": sig.channel,
                          "signed_at": iso(sig.signed_at)}
                         for sig in permit.signatures.order_by(Signature.signed_at, Signature.id)]
    out["readings"] = [{"taken_at": iso(r.taken_at), "device": r.device, "o2": r.o2, "ex": r.ex, "h2s": r.h2s,
                        "co": r.co, "others": r.others, "passed": r.passed}
                       for r in permit.gas_readings.order_by(GasReading.taken_at, GasReading.id)]
    out["events"] = [{"seq": e.seq, "action": e.action, "actor": e.actor, "at": iso(e.created_at), "data": e.data}
                     for e in AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq)]
    return out


def person_out(person: Person) -> dict:
    return {"id": person.id, "name": person.name, "wecom_userid": person.wecom_userid,
            "dingtalk_userid": person.dingtalk_userid, "mobile": person.mobile, "unit": person.department.code,
            "roles": sorted(person.role_names()), "active": person.active}


@bp.route("/people")
@bp.arguments(s.PageArgs, location="query")
@bp.response(200, s.PersonPage)
def people(args):
    """List the people of the org."""
    return page(Person.select(), Person, args, person_out)


@bp.route("/units")
@bp.arguments(s.PageArgs, location="query")
@bp.response(200, s.UnitPage)
def units(args):
    """List the org's departments."""
    return page(Department.select(), Department, args,
                lambda d: {"code": d.code, "name": d.name, "kind": d.kind,
                           "parent": d.parent.code if d.parent_id else None})


@bp.route("/certificates")
@bp.arguments(s.PageArgs, location="query")
@bp.response(200, s.CertificatePage)
def certificates(args):
    """List special-work certificates with their validity."""
    return page(Certificate.select(), Certificate, args,
                lambda c: {"person": c.person.label(), "kind": c.kind, "number": c.number,
                           "valid_until": c.valid_until.isoformat(), "revoked": c.revoked_at is not None})


@bp.route("/detectors")
@bp.arguments(s.PageArgs, location="query")
@bp.response(200, s.DetectorPage)
def detectors(args):
    """List the gas detectors and whether they are offline."""
    return page(Sensor.select(), Sensor, args,
                lambda d: {"code": d.code, "name": d.name, "area": d.area, "kind": d.kind, "gases": list(d.gases),
                           "enabled": d.enabled, "last_seen_at": iso(d.last_seen_at),
                           "offline": d.offline_since is not None})


@bp.route("/alarms")
@bp.arguments(s.AlarmArgs, location="query")
@bp.response(200, s.AlarmPage)
def alarms(args):
    """List gas alarms, newest last; `open=true` keeps those not yet cleared."""
    query = Alarm.select()
    if args.get("open"):
        query = query.where(Alarm.cleared_at.is_null())
    return page(query, Alarm, args,
                lambda a: {"id": a.id, "device": a.device, "level": a.level, "gas": a.gas, "value": a.value,
                           "text": a.text, "area": a.area, "permits": list(a.permit_nos),
                           "raised_at": iso(a.raised_at), "acknowledged_at": iso(a.acknowledged_at),
                           "cleared_at": iso(a.cleared_at)})




@bp.route("/isolations")
@bp.arguments(s.IsolationArgs, location="query")
@bp.response(200, s.IsolationPage)
def isolations(args):
    """List energy-isolation points (能量隔离) with who isolated and verified them and the permits they serve."""
    from models import IsolationPoint
    query = IsolationPoint.select()
    if args.get("state"):
        query = query.where(IsolationPoint.state == args["state"])
    return page(query, IsolationPoint, args,
                lambda p: {"id": p.id, "tag": p.tag, "kind": p.kind, "method": p.method, "lock_no": p.lock_no,
                           "tag_no": p.tag_no, "unit": p.unit.code, "state": p.state,
                           "isolated_by": p.isolated_by.label(), "isolated_at": iso(p.isolated_at),
                           "verified_by": p.verified_by.label() if p.verified_by_id else None,
                           "verified_at": iso(p.verified_at), "released_at": iso(p.released_at),
                           "permits": [link.permit.no for link in p.links]})


@bp.route("/webhooks")
@bp.arguments(s.PageArgs, location="query")
@bp.response(200, s.WebhookPage)
def webhooks(args):
    """List webhook subscriptions and how their last delivery went."""
    from models.api import Webhook
    return page(Webhook.select().where(Webhook.removed_at.is_null()), Webhook, args,
                lambda h: {"name": h.name, "url": h.url, "events": list(h.events), "delivered": h.delivered,
                           "cursor": h.cursor, "last_attempt_at": iso(h.last_attempt_at),
                           "last_status": h.last_status, "last_error": h.last_error,
                           "next_attempt_at": iso(h.next_attempt_at)})


@bp.route("/people", methods=["POST"])
@bp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 128}}])
@writes
@bp.arguments(s.PersonIn)
@bp.response(200, s.PersonWritten)
@bp.alt_response(201, schema=s.PersonWritten)
def upsert_person(data):
    """Create or update one person, by the same rules as a row of the org workbook's 人员 sheet.

    A person is matched by WeCom account, DingTalk account, then mobile; roles are replaced by the
    given ones. The write is audited under the token's name.
    """
    from exports.org_import import OrgImportError, upsert_person as upsert
    from exports.org_workbook import DEPARTMENT, DINGTALK, MOBILE, NAME, ROLE, WECOM
    cells = {NAME: data["name"], DEPARTMENT: data["unit"], WECOM: data.get("wecom_userid") or "",
             DINGTALK: data.get("dingtalk_userid") or "", MOBILE: data.get("mobile") or "",
             ROLE: "、".join(data.get("roles") or [])}
    try:
        person, created = upsert(cells)
    except OrgImportError as exc:
        first = exc.errors[0]
        abort(422, message="；".join(e.message for e in exc.errors),
              field=_FIELD_OF_COLUMN.get(first.column, first.column))
    audit.append(permit_no=None, actor=f"api:{g.api_token.name}", action="person_upserted",
                 data={"person": person.id, "created": created, **{k: v for k, v in data.items()}},
                 at=utcnow())
    return {"created": created, "person": person_out(person)}, 201 if created else 200


_FIELD_OF_COLUMN = {"姓名": "name", "部门编码": "unit", "企业微信账号": "wecom_userid", "钉钉账号": "dingtalk_userid",
                    "手机": "mobile", "角色": "roles"}
