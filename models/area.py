"""The plant's places as a tree (plant → unit → area → site), as loaded from the 区域 sheet."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, DoubleField, FloatField, ForeignKeyField

from .db import BaseModel, utcnow
from .org import Person

# Node kinds, as the 区域 sheet names them, from the root down.
PLANT, UNIT, AREA, SITE = "厂区", "装置", "区域", "部位"
AREA_KINDS = (PLANT, UNIT, AREA, SITE)


class Area(BaseModel):
    # Names are unique plant-wide: people type them in chat, so one name must mean one place.
    name = CharField(max_length=100, unique=True)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    kind = CharField(max_length=8)
    # WGS-84 degrees and metres; optional, for the alarm card and the check-in's distance.
    latitude = DoubleField(null=True)
    longitude = DoubleField(null=True)
    radius = FloatField(null=True)
    safety_officer = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    coordinator = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    # Where broadcasts that suit a group go: the key of a WeCom group robot's webhook, and the
    # openConversationId of a DingTalk group that the app's robot is in.
    wecom_group = CharField(max_length=128, null=True)
    dingtalk_group = CharField(max_length=128, null=True)
    # A node dropped from the sheet keeps the permits that name it but takes no new ones.
    active = BooleanField(default=True)


class AreaVisit(BaseModel):
    """Someone proved, through the app's OAuth, to have opened an area's board at its entrance.

    Kept in the database, not only in the board's cookie: an inspection round it proves must stay
    explainable to an auditor after the cookie is gone.
    """
    area = ForeignKeyField(Area, on_delete="RESTRICT")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    platform = CharField(max_length=16)
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("person", "at"), False),)


def parents() -> dict[int, int | None]:
    """Return every node's parent id, read in one query."""
    return dict(Area.select(Area.id, Area.parent).tuples())


def lineage(area_id: int, parent_of: dict[int, int | None] | None = None) -> list[int]:
    """Return area_id and its ancestors' ids, nearest first."""
    parent_of = parents() if parent_of is None else parent_of
    chain, node = [], area_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parent_of.get(node)
    return chain


def within(area_id: int, root_id: int, parent_of: dict[int, int | None] | None = None) -> bool:
    """True when area_id is root_id or lies under it."""
    return root_id in lineage(area_id, parent_of)


def nearest(area: Area, attribute: str) -> Person | None:
    """Return the first person set in attribute on area or its ancestors (safety officer, coordinator)."""
    rows = {a.id: a for a in Area.select()}
    for node_id in lineage(area.id, {a.id: a.parent_id for a in rows.values()}):
        holder_id = getattr(rows[node_id], f"{attribute}_id")
        if holder_id is not None:
            person = Person.get_by_id(holder_id)
            if person.active:
                return person
    return None
