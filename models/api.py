"""Tokens of the open API and the answers it gave to idempotent writes."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .db import BaseModel, JSONField, utcnow

READ, WRITE, PARK = "read", "write", "park"
# park: the park safety office's token, read-only, for the park view across every enterprise and nothing else.
SCOPES = (READ, WRITE, PARK)


class ApiToken(BaseModel):
    """A token an integration presents; only its SHA-256 is stored, so a database copy grants nothing."""
    name = CharField(max_length=64, unique=True)
    digest = CharField(max_length=64, unique=True)
    prefix = CharField(max_length=12)          # the first characters, so an admin can tell tokens apart
    scope = CharField(max_length=8)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class IdempotentRequest(BaseModel):
    """The first answer to a write with an Idempotency-Key, replayed to every repeat of that key."""
    token = ForeignKeyField(ApiToken, backref="requests", on_delete="CASCADE")
    key = CharField(max_length=128)
    fingerprint = CharField(max_length=64)     # method, path and body: one key may not carry another request
    status = IntegerField()
    body = TextField()
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("token", "key"), True),)


class Webhook(BaseModel):
    """An integration's subscription to events, delivered in the audit chain's order from a cursor.

    The chain is the event log: every change it reports was appended in the change's own transaction,
    so a delivery can be late but never lost, and `cursor` (the last seq handled) makes it resumable.
    """
    name = CharField(max_length=64, unique=True)
    url = CharField(max_length=500)
    secret = CharField(max_length=64)
    events = JSONField(default=list)
    cursor = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    removed_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)          # failures in a row, for the back-off
    next_attempt_at = DateTimeField(null=True)
    last_status = IntegerField(null=True)       # the target's HTTP status, or null when it never answered
    last_error = CharField(max_length=300, default="")
    last_attempt_at = DateTimeField(null=True)
    delivered = IntegerField(default=0)
