"""Facts that must outlive Redis, and a message waiting for its writer to say which namesake they meant.

person.platform: each person's app of choice, kept only in Redis before, so a flush sent cards to the
app they had left. name_choice: a message naming two people of one name, held until a click picks one.
"""
from peewee import CharField, DateTimeField, ForeignKeyField, Model, TextField
from playhouse.migrate import migrate

from models.db import JSONField
from models.org import Person


class NameChoice(Model):
    """The name_choice table as this migration creates it (frozen)."""
    person = ForeignKeyField(Person, on_delete="CASCADE")
    platform = CharField(max_length=16)
    text = TextField()
    token = CharField(max_length=64)
    candidates = JSONField(default=list)
    chosen = ForeignKeyField(Person, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField()

    class Meta:
        table_name = "name_choice"


def up(migrator) -> None:
    """Add person.platform (nullable: nobody has chosen yet) and create name_choice."""
    migrate(migrator.add_column("person", "platform", CharField(max_length=16, null=True)))
    NameChoice._meta.set_database(migrator.database)
    migrator.database.create_tables([NameChoice])
