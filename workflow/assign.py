"""Decide who acts on a step: from the org for org roles, from the permit for crew and guardians."""
from __future__ import annotations

from models import Department, Person, PersonRole
from models.db import compiled
from models.permit import Permit, PermitMember

from . import places
from .template import COORDINATOR_ROLE, StepDef

# Roles that belong to the owning unit itself; climbing the tree would find another unit's head.
UNIT_ROLES = {"基层单位负责人"}


def _subtree(root_id: int, children: dict[int, list[int]]) -> set[int]:
    found, todo = set(), [root_id]
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo.extend(children.get(node, ()))
    return found


def _holders_query(departments: int | None):
    query = (Person.select().join(PersonRole)
             .where((PersonRole.role == "") & (Person.active == True))  # noqa: E712
             .order_by(Person.id))
    return query if departments is None else query.where(Person.department.in_([0] * departments))


def _holders(role: str, department_ids: set[int] | None) -> list[Person]:
    # Asked for every alarm's recipients and every step's signers: compiled once per number of departments.
    ids = None if department_ids is None else sorted(department_ids)
    if ids == []:
        return []
    size = None if ids is None else len(ids)
    sql = compiled(("role holders", size), lambda: _holders_query(size))
    return list(Person.raw(sql, role, Person.active.db_value(True), *(ids or ())))


def org_role(role: str, scope: str, permit: Permit) -> list[Person]:
    """Return the active holders of an org role for permit, by scope (unit, nearest, plant)."""
    if scope == "unit":
        return _holders(role, {permit.unit_id})
    if scope == "plant":
        return _holders(role, None)
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in Department.select(Department.id, Department.parent).tuples():
        children.setdefault(parent_id, []).append(dept_id)
    # Nearest first: the owning unit, then each ancestor's whole subtree, up to the plant.
    for node in permit.unit.ancestors():
        people = _holders(role, _subtree(node.id, children))
        if people:
            return people
    return []


def resolve(step: StepDef, permit: Permit) -> list[Person]:
    """Return the people who may sign step on permit, in a stable order."""
    people: list[Person] = []
    for role in step.roles:
        if role == "申请人":
            people.append(permit.applicant)
        elif role == COORDINATOR_ROLE:
            people += [p for p in [places.coordinator_of(permit)] if p is not None and p.active]
        elif role in ("作业人", "监护人"):
            people += [m.person for m in (PermitMember.select().where(
                (PermitMember.permit == permit) & (PermitMember.role == role))
                .order_by(PermitMember.id))]
        else:
            people += org_role(role, step.scope or ("unit" if role in UNIT_ROLES else "nearest"),
                                permit)
    if step.phase == "approve":
        # Nobody approves their own permit.
        people = [p for p in people if p.id != permit.applicant_id]
    unique, seen = [], set()
    for person in people:
        if person.id not in seen:
            seen.add(person.id)
            unique.append(person)
    return unique
