"""What was delivered to whom: each card instance, so it can be found again and updated."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from .audit import Outbox
from .db import BaseModel, JSONField, utcnow
from .org import Person


class CardRecord(BaseModel):
    """One card as it sits in one person's chat; response_code updates it once (WeCom)."""
    outbox = ForeignKeyField(Outbox, backref="cards", on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    platform = CharField(max_length=16)
    task_id = CharField(max_length=128, unique=True)
    response_code = CharField(max_length=256, null=True)
    permit_no = CharField(max_length=32, index=True)
    step_key = CharField(max_length=32, null=True)
    round = IntegerField(null=True)
    # open: still shows buttons; settled: updated to say how the step ended.
    state = CharField(max_length=12, default="open")
    sent_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(null=True)


class Conversation(BaseModel):
    """A guided Q&A in progress with one person (e.g. filling in a permit application)."""
    person = ForeignKeyField(Person, unique=True, on_delete="CASCADE")
    platform = CharField(max_length=16)
    intent = CharField(max_length=16)
    data = JSONField(default=dict)
    updated_at = DateTimeField(default=utcnow)
