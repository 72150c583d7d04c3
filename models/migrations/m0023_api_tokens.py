"""Tokens of the open API and the stored answers of its idempotent writes."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


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


def up(migrator) -> None:
    """Create the API's two tables."""
    for model in (ApiToken, IdempotentRequest):
        model._meta.set_database(migrator.database)
    migrator.database.create_tables([ApiToken, IdempotentRequest])
