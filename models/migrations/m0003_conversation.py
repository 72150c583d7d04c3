"""Guided Q&A state kept in the database, so a half-filled application survives restarts."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model

from models.db import JSONField
from models.org import Person


class Conversation(Model):
    """The conversation table as this migration creates it (frozen)."""
    person = ForeignKeyField(Person, unique=True, on_delete="CASCADE")
    platform = CharField(max_length=16)
    intent = CharField(max_length=16)
    data = JSONField(default=dict)
    updated_at = DateTimeField()

    class Meta:
        table_name = "conversation"


def up(migrator) -> None:
    """Create the conversation table."""
    Conversation._meta.set_database(migrator.database)
    migrator.database.create_tables([Conversation])
