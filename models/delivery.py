"""What was delivered to whom: each card instance, so it can be found again and updated."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

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


class NameChoice(BaseModel):
    """A message held back because it named two people of one name: the card asks which one was meant.

    The click names the choice; the message is then handled again with the chosen person in place.
    """
    person = ForeignKeyField(Person, on_delete="CASCADE")   # who wrote the message and may choose
    platform = CharField(max_length=16)
    text = TextField()
    token = CharField(max_length=64)          # the name as written, e.g. 蒋焊
    candidates = JSONField(default=list)      # the ids of the people it could mean
    chosen = ForeignKeyField(Person, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)
