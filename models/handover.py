"""Shift handover (交接班): one person on a permit hands their part to another, both confirming."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField

from .db import BaseModel, JSONField, utcnow
from .org import Person
from .permit import Permit


class Handover(BaseModel):
    """state: pending (the outgoing person confirms the state), confirmed_out (the incoming person
    confirms on site), done (the permit's people changed), cancelled."""
    permit = ForeignKeyField(Permit, backref="handovers", on_delete="CASCADE")
    role = CharField(max_length=16)                     # 监护人 or 作业负责人
    outgoing = ForeignKeyField(Person, on_delete="RESTRICT")
    incoming = ForeignKeyField(Person, on_delete="RESTRICT")
    state = CharField(max_length=16, default="pending", index=True)
    # What the outgoing person confirmed: gas, crew, open actions, isolations, as read at the request.
    situation = JSONField(default=dict)
    requested_at = DateTimeField(default=utcnow)
    out_confirmed_at = DateTimeField(null=True)
    in_confirmed_at = DateTimeField(null=True)
