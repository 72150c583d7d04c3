"""Inbound events kept before their frame is acknowledged: what the platform will not send again."""
from __future__ import annotations

from peewee import CharField, DateTimeField, IntegerField, TextField

from .db import BaseModel, utcnow


class InboxEvent(BaseModel):
    """One card click or robot message as it arrived; handled_at is set once its handling is over.

    dedupe_key is the frame's identity (its messageId): the unique index is the de-duplication, in the
    same insert that keeps the event.
    """
    dedupe_key = CharField(max_length=191, unique=True)
    platform = CharField(max_length=16)
    topic = CharField(max_length=64)
    message_id = CharField(max_length=128)
    data = TextField()                       # the frame's data, exactly as it came
    received_at = DateTimeField(default=utcnow)
    attempts = IntegerField(default=0)       # how many times handling began
    handled_at = DateTimeField(null=True, index=True)
    result = CharField(max_length=64, null=True)
