"""Tokens of the open API and the answers it gave to idempotent writes."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .db import BaseModel, utcnow

READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)


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
