"""The park view (园区视图) in /api/v1: every enterprise's live permits, alarms, open findings and KPIs side by side.

Read with a park token only (guard.py); each enterprise's part is read with its own database bound,
one after the other, so no query ever spans two enterprises.
"""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields

from exports import period as periods, weights
from exports.run import Run
from models import Alarm, Finding, Permit
from models.db import utcnow
from models.hazard import OPEN_STATES
from park import enterprises
from park.report import score
from workflow.states import DRAFT, FINAL, LABELS

from .views import bp, iso

LISTED = 50   # rows of each kind shown per enterprise; the counts say how many there are


class _PermitOut(Schema):
    no = fields.String(required=True)
    type = fields.String(required=True)
    grade = fields.String(allow_none=True)
    state = fields.String(required=True)
    state_name = fields.String(required=True)
    location = fields.String(required=True)
    planned_end = fields.String(allow_none=True)


class _AlarmOut(Schema):
    id = fields.Integer(required=True)
    device = fields.String(allow_none=True)
    level = fields.String(required=True)
    gas = fields.String(allow_none=True)
    value = fields.Float(allow_none=True)
    area = fields.String(required=True)
    raised_at = fields.String(allow_none=True)
    acknowledged = fields.Boolean(required=True)


class _FindingOut(Schema):
    no = fields.String(required=True)
    place = fields.String(required=True)
    description = fields.String(required=True)
    grade = fields.String(required=True)
    state = fields.String(required=True)
    deadline = fields.String(allow_none=True)


class _Kpi(Schema):
    month = fields.String(required=True, metadata={"description": "the plant-local month so far, e.g. 2026-11"})
    score = fields.Float(allow_none=True, metadata={"description": "the monthly report's weighted Q, 0–100"})
    groups = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), required=True)
    indicators = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), required=True)
    permits = fields.Integer(required=True)
    alarms = fields.Integer(required=True)


class _EnterpriseView(Schema):
    code = fields.String(allow_none=True, metadata={"description": "null for the deployment's own plant"})
    name = fields.String(required=True)
    error = fields.String(allow_none=True, metadata={"description": "why this enterprise could not be read"})
    live_permits = fields.Integer(allow_none=True)
    open_alarms = fields.Integer(allow_none=True)
    open_findings = fields.Integer(allow_none=True)
    permits = fields.List(fields.Nested(_PermitOut), required=True)
    alarms = fields.List(fields.Nested(_AlarmOut), required=True)
    findings = fields.List(fields.Nested(_FindingOut), required=True)
    kpi = fields.Nested(_Kpi, allow_none=True)


class ParkOverview(Schema):
    generated_at = fields.String(required=True)
    enterprises = fields.List(fields.Nested(_EnterpriseView), required=True)


def _view(month, run: Run, items) -> dict:
    """Read the bound database's part of the park view."""
    live = Permit.select().where(Permit.state.not_in([DRAFT, *FINAL]))
    alarms = Alarm.select().where(Alarm.cleared_at.is_null())
    found = Finding.select().where(Finding.state.in_(list(OPEN_STATES)))
    month_score = score(month, run, items)
    return {
        "live_permits": live.count(), "open_alarms": alarms.count(), "open_findings": found.count(),
        "permits": [{"no": p.no, "type": p.work_type, "grade": p.grade, "state": p.state,
                     "state_name": LABELS[p.state], "location": p.location, "planned_end": iso(p.planned_end)}
                    for p in live.order_by(Permit.id).limit(LISTED)],
        "alarms": [{"id": a.id, "device": a.device, "level": a.level, "gas": a.gas, "value": a.value, "area": a.area,
                    "raised_at": iso(a.raised_at), "acknowledged": a.acknowledged_at is not None}
                   for a in alarms.order_by(Alarm.id).limit(LISTED)],
        "findings": [{"no": f.no, "place": f.place, "description": f.description, "grade": f.grade,
                      "state": f.state, "deadline": iso(f.deadline)}
                     for f in found.order_by(Finding.id).limit(LISTED)],
        "kpi": {"month": month.label, "score": month_score.q, "groups": month_score.groups,
                "indicators": month_score.indicators, "permits": month_score.permits, "alarms": month_score.alarms},
    }


# An enterprise whose database did not answer: no figures, rather than figures that look like zero.
UNREAD = {"live_permits": None, "open_alarms": None, "open_findings": None, "permits": [], "alarms": [],
          "findings": [], "kpi": None}


@bp.route("/park/overview")
@bp.response(200, ParkOverview)
def park_overview():
    """The park view: each enterprise's live permits, open alarms, open findings and this month's KPIs.

    Only a park token (`api-token create --scope park`) reads it; the deployment's own plant comes
    first (code null), then the enterprises by code. An enterprise whose database does not answer is
    listed with `error` and no figures.
    """
    conf = current_app.config["SETTINGS"]
    now = utcnow()
    month = periods.month(f"{iso(now)[:7]}")
    run, items = Run(conf.plant_tz, conf.plant_name, now), weights.current()
    out = []
    for site in enterprises.across(lambda: _view(month, run, items)):
        part = site.found or UNREAD
        out.append({"code": site.code, "name": site.name, "error": site.error or None, **part})
    return {"generated_at": iso(now), "enterprises": out}
