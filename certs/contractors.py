"""Contractors' temporary authorisations: the 承包商 sheet, and whether one covers a permit."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from exports.org_workbook import split_roles as split_list
from exports.workbook import RowError, SheetRow, read_sheets
from models import Authorisation, Certificate, Person, utcnow
from models.permit import Permit
from workflow import places, template as templates
from workflow.errors import NotFound

from . import matrix
from .days import local_day
from .sheet import ACCOUNT, NAME, Checker

CONTRACTORS = "承包商"
COMPANY, TYPES, AREAS, FROM, TO = "承包商单位", "作业类型", "作业区域", "授权开始", "授权截止"
COLUMNS = {NAME: 50, ACCOUNT: 64, COMPANY: 100, TYPES: 200, AREAS: 500, FROM: 32, TO: 32}
EVERY = "全部"
ANY = "*"


def read(path: str | Path) -> tuple[list[SheetRow] | None, list[RowError]]:
    """Return the 承包商 rows (None when the workbook has no such sheet) and any missing header."""
    rows, errors = read_sheets(path, {CONTRACTORS: COLUMNS}, optional=(ACCOUNT,))
    if any(e.sheet == CONTRACTORS and e.row is None for e in errors):
        return None, []
    return rows.get(CONTRACTORS, []), errors


def _work_types(checker: Checker, row: SheetRow) -> list[str]:
    names = split_list(row[TYPES])
    if names == [EVERY]:
        return [ANY]
    codes = []
    for name in names or [""]:
        try:
            codes.append(templates.get(name).code)
        except NotFound:
            choices = "、".join(t.name for t in templates.registry().values())
            checker.error(row, TYPES, f"未知作业类型“{name}”，可选：{choices} 或 {EVERY}" if name else "不能为空")
    return codes


def check(rows: list[SheetRow]) -> tuple[list[dict], list[RowError]]:
    """Check the rows against the org as it now stands; return the authorisations to write and every error."""
    checker, good = Checker(), []
    for row in rows:
        checker.check_lengths(row, COLUMNS)
        person = checker.person(row)
        if not row[COMPANY]:
            checker.error(row, COMPANY, "不能为空")
        types = _work_types(checker, row)
        areas = split_list(row[AREAS])
        if not areas:
            checker.error(row, AREAS, f"不能为空（不限区域请填 {EVERY}）")
        start, end = checker.date(row, FROM, required=True), checker.date(row, TO, required=True)
        if start and end and start > end:
            checker.error(row, TO, f"授权截止 {end} 早于授权开始 {start}")
        if person is not None and start and end:
            good.append(dict(person=person, company=row[COMPANY], work_types=types, valid_from=start,
                             valid_to=end, areas=[ANY] if areas == [EVERY] else areas))
    return good, checker.errors


def save(good: list[dict]) -> int:
    """Write the sheet's authorisations as the current ones; revoke the rest. Return how many are current."""
    now = utcnow()
    Authorisation.update(revoked_at=now).where(Authorisation.revoked_at.is_null()).execute()
    for fields in good:
        Authorisation.create(**fields, created_at=now)
    return len(good)


def _covers(auth: Authorisation, permit: Permit) -> tuple[bool, bool, bool]:
    """Return whether auth covers permit's work type, its location, and its planned days."""
    kind = ANY in auth.work_types or permit.work_type in auth.work_types
    area = ANY in auth.areas or any(places.covers(a, permit) for a in auth.areas)
    days = auth.valid_from <= local_day(permit.planned_start) and local_day(permit.planned_end) <= auth.valid_to
    return kind, area, days


def _entry_training(person: Person, at: datetime) -> str:
    """Return why person lacks the plant's entry training, when the matrix asks for it ("" when not)."""
    kind = matrix.current().contractor_entry
    if not kind:
        return ""
    best = (Certificate.select().where((Certificate.person == person) & (Certificate.kind == kind)
                                       & Certificate.revoked_at.is_null())
            .order_by(Certificate.valid_until.desc()).first())
    if best is None:
        return f"尚未通过入厂安全教育（没有{kind}）"
    if best.valid_until < local_day(at):
        return f"的{kind}（{best.number}）已于 {best.valid_until:%Y-%m-%d} 过期，须重新参加入厂安全教育"
    return ""


def problems(person: Person, role: str, permit: Permit, *, at: datetime) -> list[str]:
    """Return why a contractor may not work on permit (empty: may, or not a contractor)."""
    held = list(Authorisation.select().where(Authorisation.person == person).order_by(Authorisation.valid_to.desc()))
    if not held:
        return []
    who, current = f"{person.name}（{role}，承包商）", [a for a in held if a.revoked_at is None]
    if not current:
        return [f"{who}的临时授权已注销"]
    if missing := _entry_training(person, at):
        return [f"{who}{missing}，临时授权暂不生效"]
    if any(all(_covers(a, permit)) and a.valid_to >= local_day(at) for a in current):
        return []
    fits = [_covers(a, permit) for a in current]
    if not any(kind for kind, _, _ in fits):
        return [f"{who}未获授权从事{templates.get(permit.work_type).name}"]
    if not any(kind and area for kind, area, _ in fits):
        areas = "、".join(dict.fromkeys(x for a in current for x in a.areas))
        return [f"{who}的授权区域（{areas}）不含作业地点“{permit.location}”"]
    best = current[0]
    return [f"{who}的临时授权有效期为 {best.valid_from:%Y-%m-%d} 至 {best.valid_to:%Y-%m-%d}，不覆盖本次作业时间"]


def expiring(today: date, warn_days: int) -> list[Authorisation]:
    """Return the current authorisations that end within warn_days of today."""
    return list(Authorisation.select(Authorisation, Person).join(Person)
                .where(Authorisation.revoked_at.is_null() & (Authorisation.valid_to >= today)
                       & (Authorisation.valid_to <= today + timedelta(days=warn_days))
                       & (Person.active == True))  # noqa: E712
                .order_by(Authorisation.valid_to, Authorisation.id))
