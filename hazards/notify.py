"""Who hears of a finding: the area's safety officer, the safety department, the responsible unit's chain."""
from __future__ import annotations

from models import Department, Outbox, Person, PersonRole
from models.area import Area, nearest
from models.org import LEADERSHIP, SAFETY

# The roles that answer for a department, whichever its kind: the escalation climbs through them.
HEADS = ("基层单位负责人", "专业部门负责人", "安全管理部门负责人", "主管领导")


def tell(people, text: str, key: str) -> None:
    """Queue text to each person once: the key makes a retried command write nothing new."""
    for person in {p.id: p for p in people if p is not None and p.active}.values():
        (Outbox.insert(permit_no=None, person=person, kind="reply", payload={"kind": "reply", "text": text},
                       dedupe_key=f"hazard:{key}:{person.id}"[:191])
         .on_conflict_ignore().execute())


def safety_department() -> list[Person]:
    """Return everyone active in the plant's safety department(s)."""
    return list(Person.select().join(Department)
                .where((Department.kind == SAFETY) & (Person.active == True)).order_by(Person.id))  # noqa: E712


def officer_of(area: Area | None) -> Person | None:
    """Return the safety officer of the area or the nearest place above it."""
    return nearest(area, "safety_officer") if area is not None else None


def heads_of(department: Department) -> list[Person]:
    """Return the active people who answer for department."""
    return list(Person.select().join(PersonRole)
                .where((Person.department == department) & PersonRole.role.in_(HEADS)
                       & (Person.active == True)).order_by(Person.id).distinct())  # noqa: E712


def chain(unit: Department | None) -> list[list[Person]]:
    """Return the heads of the unit and of each department above it, nearest first; empty levels dropped."""
    if unit is None:
        return []
    levels = [heads_of(d) for d in unit.ancestors()]
    if not any(d.kind == LEADERSHIP for d in unit.ancestors()):
        # A unit hung outside the plant's tree still reaches the plant's leaders last.
        top = Department.select().where(Department.kind == LEADERSHIP).first()
        levels.append(heads_of(top) if top else [])
    return [level for level in levels if level]
