"""Write a permit before it is submitted: its content, crew and guardians, and the checks on them."""
from __future__ import annotations

from datetime import datetime

import settings
from models import Department, Person, Step, transaction, utcnow
from models.org import UNIT
from models.permit import Permit, PermitMember

from . import audit, gas, grading, hooks, places, template as templates
from .errors import InvalidPermit, NotCertified
from .rules import SERVED_BY_TEMP_POWER, UNGRADED
from .states import DRAFT, FINAL
from .template import Template

CONTENT_FIELDS = ("location", "content", "medium", "planned_start", "planned_end", "attributes", "coordinator")


def coerce_attributes(t: Template, raw: dict) -> dict:
    """Check the type-specific fields against the template and convert them; refuse unknown ones."""
    out = {}
    for key, value in (raw or {}).items():
        f = t.field(key)
        if f is None:
            raise InvalidPermit(f"{t.name}没有“{key}”这一项")
        if value in (None, "", []):
            continue
        try:
            if f.type == "int":
                value = int(value)
            elif f.type == "float":
                value = float(value)
            elif f.type == "bool":
                value = value in (True, "是", "true", "1", 1)
        except (TypeError, ValueError):
            raise InvalidPermit(f"{f.label}“{value}”不是数字") from None
        if f.type == "choice" and value not in f.choices:
            raise InvalidPermit(f"{f.label}“{value}”无效，可选：{'、'.join(f.choices)}")
        if f.type == "multi":
            value = [value] if isinstance(value, str) else list(value)
            bad = [v for v in value if v not in f.choices]
            if bad:
                raise InvalidPermit(f"{f.label}“{'、'.join(bad)}”无效，可选：{'、'.join(f.choices)}")
        out[key] = value
    return out


def set_members(permit: Permit, role: str, people: list[Person]) -> None:
    """Replace the permit's people in role (作业人 or 监护人)."""
    PermitMember.delete().where((PermitMember.permit == permit) & (PermitMember.role == role)).execute()
    for person in people:
        PermitMember.create(permit=permit, person=person, role=role)


def create_permit(work_type: str, *, applicant: Person, location: str, content: str,
                  planned_start: datetime, planned_end: datetime, attributes: dict | None = None,
                  crew: list[Person] = (), guardians: list[Person] = (), medium: str | None = None,
                  unit: Department | None = None, now: datetime | None = None,
                  copied_from: str | None = None, coordinator: Person | None = None) -> Permit:
    """Create a draft permit with a fresh number; nothing is checked against the rules until submit."""
    t = templates.get(work_type)
    now = now or utcnow()
    unit = unit or applicant.department
    if unit.kind != UNIT:
        raise InvalidPermit(f"{unit.name}不是基层单位，请指定作业所在的基层单位")
    attributes = coerce_attributes(t, attributes)
    area = places.place_of(location)
    from .numbering import next_number
    with transaction():
        day = grading.local(now, settings.current().plant_tz).date()
        permit = Permit.create(
            no=next_number(t.prefix, day), work_type=t.code, state=DRAFT, unit=unit,
            applicant=applicant, location=location.strip(), area=area, content=content.strip(),
            medium=(medium or "").strip() or None, planned_start=planned_start,
            planned_end=planned_end, attributes=attributes, copied_from=copied_from, created_at=now,
            coordinator=coordinator)
        set_members(permit, "作业人", list(crew))
        set_members(permit, "监护人", list(guardians))
        audit.append(permit_no=permit.no, actor=applicant.label(), action="create",
                     data={"work_type": t.code, "snapshot": audit.snapshot(permit)}, at=now)
    return permit


def check_members(t: Template, permit: Permit, *, now: datetime) -> None:
    """Refuse a crew or guardian list that the rules do not allow, certificates included."""
    crew = [m.person for m in permit.members if m.role == "作业人"]
    guards = [m.person for m in permit.members if m.role == "监护人"]
    if not crew:
        raise InvalidPermit("请填写作业人")
    if len(guards) < t.min_guardians:
        raise InvalidPermit(f"{t.name}需要至少 {t.min_guardians} 名监护人（GB 30871-2022 4.10）")
    for role, people in (("作业人", crew), ("监护人", guards)):
        for person in people:
            if not person.active:
                raise InvalidPermit(f"{person.name}已停用，不能作为{role}")
            if role not in person.role_names():
                raise InvalidPermit(f"{person.name}没有“{role}”资格，不能作为{role}")
    both = {p.id for p in crew} & {p.id for p in guards}
    if both:
        names = "、".join(p.name for p in guards if p.id in both)
        raise InvalidPermit(f"{names}不能同时担任作业人和监护人")
    if permit.applicant_id in {p.id for p in guards}:
        raise InvalidPermit("申请人不能兼任本作业票的监护人")
    # Checked when people are named (submit, change), again at approval and start by the gates.
    found = {role: hooks.problems("certificates", permit, roles=(role,), at=now) for role in hooks.MEMBER_ROLES}
    if any(found.values()):
        raise NotCertified("；".join(p for problems in found.values() for p in problems) + "。请更换人员后重新提交",
                           roles=tuple(role for role, problems in found.items() if problems))


def check_window(t: Template, permit: Permit, now: datetime) -> tuple[str | None, list[str]]:
    """Work out the grade and refuse a time window longer than the grade's validity."""
    plant = settings.current()
    if permit.planned_end <= permit.planned_start:
        raise InvalidPermit("计划结束时间须晚于开始时间")
    if permit.planned_end <= now:
        raise InvalidPermit("计划结束时间已过")
    grade, reasons = grading.grade_of(t, permit.attributes, start=permit.planned_start,
                                      end=permit.planned_end, tz=plant.plant_tz,
                                      holidays=plant.holidays)
    hours = t.validity_hours[grade or UNGRADED]
    if t.validity_special_hours and permit.attributes.get("special_reason"):
        hours = t.validity_special_hours
    span = (permit.planned_end - permit.planned_start).total_seconds() / 3600
    if span > hours:
        label = f"{grade}{t.name}" if grade else t.name
        why = f"（因{'、'.join(reasons)}升级）" if reasons else ""
        raise InvalidPermit(f"{label}{why}作业票有效期不超过 {hours:g} 小时，"
                            f"计划时长 {span:g} 小时（GB 30871-2022）")
    served = permit.attributes.get("serves")
    if served:
        other = Permit.get_or_none(Permit.no == served)
        if other is None or other.work_type not in SERVED_BY_TEMP_POWER or other.state in FINAL:
            raise InvalidPermit(f"服务作业票 {served} 不存在、已结束，或不是动火/受限空间作业票")
        if permit.planned_end > other.planned_end:
            raise InvalidPermit(f"临时用电服务于 {served}，有效期不能超过该作业票（至 "
                                f"{grading.local(other.planned_end, plant.plant_tz):%m-%d %H:%M}）")
    return grade, reasons


def check_content(t: Template, permit: Permit, now: datetime) -> tuple[str | None, list[str]]:
    """Check everything a submit needs; return the grade and why it was raised."""
    if not permit.location or not permit.content:
        raise InvalidPermit("请填写作业地点和作业内容")
    # Again at submit: a draft's location may have been edited, or the tree reloaded since.
    permit.area = places.place_of(permit.location)
    for f in t.fields:
        if f.required and permit.attributes.get(f.key) in (None, "", []):
            raise InvalidPermit(f"请填写{f.label}")
    if t.needs_medium:
        if not permit.medium:
            raise InvalidPermit("请填写介质（可燃介质决定气体合格标准）")
        try:
            gas.lel_of(permit.medium)
        except gas.UnknownMedium as exc:
            raise InvalidPermit(str(exc)) from None
    if t.unique_open:
        _check_unique_open(t, permit)
    check_members(t, permit, now=now)
    return check_window(t, permit, now)


def _check_unique_open(t: Template, permit: Permit) -> None:
    key = {k: permit.attributes.get(k) for k in t.unique_open}
    for other in Permit.select().where((Permit.work_type == t.code) & (Permit.id != permit.id)
                                       & Permit.state.not_in(list(FINAL | {DRAFT}))):
        if all(other.attributes.get(k) == v for k, v in key.items()):
            what = "、".join(f"{t.field(k).label}{v}" for k, v in key.items())
            raise InvalidPermit(f"{what} 已有未关闭的作业票 {other.no}（一个盲板每次抽或堵只办一张票）")


def lay_out_steps(t: Template, permit: Permit, grade: str | None) -> list[Step]:
    """Create (or reset) the permit's steps for its grade; steps of other grades are skipped."""
    existing = {s.key: s for s in Step.select().where(Step.permit == permit)}
    laid = []
    for seq, d in enumerate(t.steps, start=1):
        step = existing.get(d.key) or Step(permit=permit, key=d.key, name=d.name, phase=d.phase)
        step.seq, step.name, step.phase = seq, d.name, d.phase
        step.state = "pending" if d.applies_to(grade) else "skipped"
        step.activated_at = step.due_at = step.completed_at = None
        step.save()
        laid.append(step)
    return laid
