"""The preconditions a step may demand before its signature counts."""
from __future__ import annotations

from datetime import datetime

import settings
from models import Attachment, GasReading, Person
from models.permit import Permit, PermitMember

from . import hooks, onsite as site
from .clock import local
from .errors import GateNotMet
from .grading import after_nightfall, nightfall_at
from .rules import UNGRADED
from .template import StepDef, Template


def latest_readings(permit: Permit, now: datetime, since: datetime | None = None) -> list[GasReading]:
    """Return the permit's judged readings taken up to now (and after since), newest first.

    A detector that measures fewer gases than the permit needs leaves readings judged neither way
    (passed is NULL): they neither open the gas gate nor count as a failed analysis.
    """
    query = GasReading.select().where((GasReading.permit == permit) & (GasReading.taken_at <= now)
                                      & GasReading.passed.is_null(False))
    if since is not None:
        query = query.where(GasReading.taken_at >= since)
    return list(query.order_by(GasReading.taken_at.desc(), GasReading.id.desc()).limit(50))


def gas_fresh(permit: Permit, t: Template, now: datetime, *, since: datetime | None = None) -> None:
    """Refuse unless the newest reading passed and was taken within the template's freshness window."""
    readings = latest_readings(permit, now, since)
    limit = t.gas.fresh_minutes or 30
    if not readings:
        after = "暂停后" if since else ""
        raise GateNotMet(f"没有{after}气体分析记录，请气体检测人现场检测（{limit} 分钟内有效）")
    newest = readings[0]
    if not newest.passed:
        raise GateNotMet(f"最近一次气体分析不合格（{newest.verdict.get('text', '')}），不能作业")
    age = (now - newest.taken_at).total_seconds() / 60
    if age > limit:
        raise GateNotMet(f"最近一次合格的气体分析在 {age:.0f} 分钟前，超过 {limit} 分钟，请重新检测")


# Steps after the start whose photos show the work done: only a photo taken once the work started counts.
AFTER_START = ("work", "accept", "close")


def _photo_kinds(permit: Permit, since: datetime | None) -> set[str]:
    query = Attachment.select(Attachment.kind).where(Attachment.permit == permit)
    if since is not None:
        query = query.where(Attachment.created_at >= since)
    return {a.kind for a in query}


def photos(permit: Permit, kinds: tuple[str, ...], *, phase: str = "start") -> None:
    """Refuse unless a photo of every required kind is attached (after the start, one taken since)."""
    later = phase in AFTER_START
    have = _photo_kinds(permit, permit.started_at if later else None)
    missing = [k for k in kinds if k not in have]
    if missing:
        taken = "开工后拍摄的" if later else ""
        raise GateNotMet(f"缺少{taken}现场照片：{'、'.join(missing)}。请发送“照片 {permit.no} {missing[0]}”，再发送照片")


def wanted_photos(permit: Permit, t: Template, active_key: str | None) -> list[str]:
    """Return the photo kinds permit still lacks, in step order.

    The start's photos may come ahead of it (the extinguisher is in place before the work starts); a
    later step's only while that step is active, since they show the work done.
    """
    wanted: list[str] = []
    for step in t.steps:
        later = step.phase in AFTER_START
        if not step.gates.photos or (later and step.key != active_key):
            continue
        have = _photo_kinds(permit, permit.started_at if later else None)
        wanted += [k for k in step.gates.photos if k not in have and k not in wanted]
    return wanted


def guardians(permit: Permit, t: Template) -> None:
    """Refuse unless the template's number of guardians is named on the permit."""
    count = PermitMember.select().where((PermitMember.permit == permit)
                                        & (PermitMember.role == "监护人")).count()
    if count < t.min_guardians:
        raise GateNotMet(f"需要至少 {t.min_guardians} 名监护人，当前 {count} 名")


def window(permit: Permit, t: Template, now: datetime) -> None:
    """Refuse outside the permit's planned window, and at night if no night work was declared."""
    if now < permit.planned_start:
        raise GateNotMet("未到计划开始时间，不能开工")
    if now >= permit.planned_end:
        raise GateNotMet("作业票已过有效期，按 GB 30871-2022 须重新办理作业票")
    plant = settings.current()
    if permit.attributes.get("night_work") == "否" and after_nightfall(now, t, plant.plant_tz, plant.nightfall):
        day = local(now, plant.plant_tz).date()
        begins = nightfall_at(day, t, plant.nightfall).strftime("%H:%M")
        raise GateNotMet(f"本作业票申报夜间不作业（{begins}–{t.grading.night[1]}），夜间作业须按升级管理重新办票")


def check(step: StepDef, permit: Permit, t: Template, person: Person, now: datetime) -> None:
    """Run every gate the step names; the first unmet one raises GateNotMet."""
    g = step.gates
    if step.onsite:
        site.require_approver_on_site(permit, t, person, now)
    if g.window:
        window(permit, t, now)
    if g.guardians:
        guardians(permit, t)
    if g.gas_fresh:
        gas_fresh(permit, t, now)
    if g.photos:
        photos(permit, g.photos, phase=step.phase)
    found = []
    # Approvals re-check the named people too: a certificate can expire or be revoked while a permit waits.
    roles = g.certificates or (hooks.MEMBER_ROLES if step.phase == "approve" else ())
    if roles:
        found += hooks.problems("certificates", permit, roles=roles, at=now)
    if g.monitoring and (permit.grade or UNGRADED) in t.gas.continuous:
        found += hooks.problems("monitoring", permit, at=now)
    if g.face_check or f"{t.code}.{step.key}" in settings.current().face_check_steps:
        found += hooks.problems("face_check", permit, step=step.key, person=person, at=now)
    if g.tools:
        found += hooks.problems("tools", permit, kinds=g.tools, person=person, at=now)
    if step.phase == "start":   # isolation comes before the work, whatever the template's gates say
        found += hooks.problems("isolation", permit, at=now)
        found += hooks.problems("meeting", permit, at=now)   # the crew's 班前会, where the plant asks for it
    if found:
        raise GateNotMet("；".join(found))
    if g.checkins:   # last: arriving on site is the final thing before the work starts
        site.require_present(permit, t, g.checkins, now)
