"""An emergency (一键应急) raised for an area: what it stopped, whom it called, and how it was closed."""
from __future__ import annotations

from peewee import BooleanField, DateTimeField, ForeignKeyField, TextField

from .area import Area
from .db import BaseModel, JSONField, utcnow
from .org import Person
from .sensor import Alarm

# The levels an emergency's alarm carries: cards, boards and ledgers show which one it was.
EMERGENCY, DRILL = "应急", "演练"
MUSTER_LEVELS = (EMERGENCY, DRILL)


class Emergency(BaseModel):
    area = ForeignKeyField(Area, backref="emergencies", on_delete="RESTRICT")
    drill = BooleanField(default=False)      # 演练: the same flow, marked as a drill everywhere
    text = TextField()                       # what was said, each joining report appended
    raised_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    raised_at = DateTimeField(default=utcnow, index=True)
    # The alarm that carries the cards: its recipients are the muster list, its acks the taps.
    alarm = ForeignKeyField(Alarm, on_delete="RESTRICT")
    permit_nos = JSONField(default=list)     # the live permits in the area when it was raised
    suspended = JSONField(default=list)      # those it stopped
    closed_at = DateTimeField(null=True, index=True)
    closed_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    handling = TextField(default="")         # 处置情况, recorded at closing
