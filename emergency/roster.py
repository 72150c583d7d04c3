"""Who an emergency concerns and how every text marks it; shared by raising it and counting its muster."""
from __future__ import annotations

from models import Person
from models.emergency import DRILL, EMERGENCY
from models.permit import Permit
from workflow import machine


def tag(drill: bool) -> str:
    """Return how every text marks the flow: 【演练】 for a drill, 【应急】 for the real thing."""
    return f"【{DRILL if drill else EMERGENCY}】"


def muster_list(permits: list[Permit]) -> list[Person]:
    """Return who must report being safe: every worker and guardian of the permits."""
    people: dict[int, Person] = {}
    for permit in permits:
        for person in machine.crew_and_guardians(permit):
            people.setdefault(person.id, person)
    return list(people.values())
