"""The inbox: Stream clicks and messages stored before their frame is acknowledged."""
from peewee import CharField, DateTimeField, IntegerField, Model, TextField


class InboxEvent(Model):
    """The inbox_event table as this migration creates it (frozen)."""
    dedupe_key = CharField(max_length=191, unique=True)
    platform = CharField(max_length=16)
    topic = CharField(max_length=64)
    message_id = CharField(max_length=128)
    data = TextField()
    received_at = DateTimeField()
    attempts = IntegerField(default=0)
    handled_at = DateTimeField(null=True, index=True)
    result = CharField(max_length=64, null=True)

    class Meta:
        table_name = "inbox_event"


def up(migrator) -> None:
    """Create the inbox_event table."""
    InboxEvent._meta.set_database(migrator.database)
    migrator.database.create_tables([InboxEvent])
