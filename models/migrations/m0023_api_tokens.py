"""Tokens of the open API, the stored answers of its idempotent writes, and its webhook subscriptions."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField

from models.db import JSONField


class ApiToken(Model):
    """The api_token table as this migration creates it (frozen)."""
    name = CharField(max_length=64, unique=True)
    digest = CharField(max_length=64, unique=True)
    prefix = CharField(max_length=12)
    scope = CharField(max_length=8)
    created_at = DateTimeField()
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "api_token"


class IdempotentRequest(Model):
    """The idempotent_request table as this migration creates it (frozen)."""
    token = ForeignKeyField(ApiToken, on_delete="CASCADE")
    key = CharField(max_length=128)
    fingerprint = CharField(max_length=64)
    status = IntegerField()
    body = TextField()
    created_at = DateTimeField(index=True)

    class Meta:
        table_name = "idempotent_request"
        indexes = ((("token", "key"), True),)


class Webhook(Model):
    """The webhook table as this migration creates it (frozen)."""
    name = CharField(max_length=64, unique=True)
    url = CharField(max_length=500)
    secret = CharField(max_length=64)
    events = JSONField(default=list)
    cursor = IntegerField(default=0)
    created_at = DateTimeField()
    removed_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    last_status = IntegerField(null=True)
    last_error = CharField(max_length=300, default="")
    last_attempt_at = DateTimeField(null=True)
    delivered = IntegerField(default=0)

    class Meta:
        table_name = "webhook"


def up(migrator) -> None:
    """Create the API's tables."""
    for model in (ApiToken, IdempotentRequest, Webhook):
        model._meta.set_database(migrator.database)
    migrator.database.create_tables([ApiToken, IdempotentRequest, Webhook])
