"""Whether the people named on a permit hold the certificates their roles need for its work type."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import settings
from models import Certificate, Person
from models.permit import Permit, PermitMember
from workflow.hooks import MEMBER_ROLES

from . import contractors, matrix
from .days import local_day


def needed_until(permit: Permit) -> date:
    """Return the day a certificate must last to: the permit's planned end plus the plant's margin."""
    try:
        return local_day(permit.planned_end) + timedelta(days=settings.current().cert_margin_days)
    except OverflowError:   # an end near date.max: no certificate lasts that long anyway
        return date.max


def person_problems(person: Person, role: str, work_type: str, *, at: datetime, until: date) -> list[str]:
    """Return why person may not take role on work of work_type lasting until `until` (empty: may)."""
    found = []
    for kind in matrix.current().required(role, work_type):
        held = list(Certificate.select().where((Certificate.person == person) & (Certificate.kind == kind))
                    .order_by(Certificate.revoked_at.is_null(False), Certificate.valid_until.desc()))
        best = held[0] if held else None
        if best is None:
            found.append(f"{person.name}（{role}）没有登记{kind}")
        elif best.revoked_at is not None:
            found.append(f"{person.name}（{role}）的{kind}（{best.number}）已于 "
                         f"{local_day(best.revoked_at):%Y-%m-%d} 注销")
        elif best.valid_until < local_day(at):
            found.append(f"{person.name}（{role}）的{kind}（{best.number}）已于 {best.valid_until:%Y-%m-%d} 过期")
        elif best.valid_until < until:
            margin = settings.current().cert_margin_days
            found.append(f"{person.name}（{role}）的{kind}（{best.number}）有效期至 {best.valid_until:%Y-%m-%d}，"
                         f"须至少到 {until:%Y-%m-%d}（作业结束后 {margin} 天）")
    return found


def permit_problems(permit: Permit, *, roles=MEMBER_ROLES, at: datetime) -> list[str]:
    """Check every member of permit in roles, contractors' authorisations too; the "certificates" hook."""
    until = needed_until(permit)
    members = (PermitMember.select(PermitMember, Person).join(Person)
               .where((PermitMember.permit == permit) & PermitMember.role.in_(list(roles)))
               .order_by(PermitMember.id))
    return [problem for m in members
            for problem in (person_problems(m.person, m.role, permit.work_type, at=at, until=until)
                            + contractors.problems(m.person, m.role, permit, at=at))]
