"""The rows of 持证情况统计表: per certificate type, who needs it, who holds it, and how valid it is."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import Certificate, Person, PersonRole

from . import matrix
from .days import local_day

SOON_DAYS = 30   # the sheet's "30 天内到期" column


def rows(period, now: datetime) -> list[list]:
    """Return one row per certificate type in exports.certificates.COLUMNS order, as of now."""
    today, m = local_day(now), matrix.current()
    result = []
    for kind in m.kinds:
        roles = m.roles_needing(kind)
        needing = {p for (p,) in (Person.select(Person.id).join(PersonRole)
                                  .where(PersonRole.role.in_(roles) & (Person.active == True))  # noqa: E712
                                  .tuples())} if roles else set()
        best: dict[int, object] = {}
        for person_id, until in (Certificate.select(Certificate.person, Certificate.valid_until)
                                 .join(Person).where((Certificate.kind == kind) & Certificate.revoked_at.is_null()
                                                     & (Person.active == True)).tuples()):  # noqa: E712
            best[person_id] = max(until, best.get(person_id, until))
        expired = sum(1 for until in best.values() if until < today)
        soon = sum(1 for until in best.values() if today <= until <= today + timedelta(days=SOON_DAYS))
        valid = len(best) - expired - soon
        held_validly = len((set(best) & needing) - {p for p, until in best.items() if until < today})
        rate = round(100 * held_validly / len(needing), 1) if needing else None
        result.append([kind, "、".join(roles), len(needing), len(best), valid, soon, expired, rate])
    return result


def register() -> None:
    """Give the 持证情况统计表 export its rows (exports.certificates' seam for this registry)."""
    from exports import certificates
    certificates.register(rows)
