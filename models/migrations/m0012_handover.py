"""Shift handovers of a permit's guardian or work leader."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model

from models.db import JSONField
from models.org import Person
from models.permit import Permit


class Handover(Model):
    """The handover table as this migration creates it (frozen)."""
    permit = ForeignKeyField(Permit, on_delete="CASCADE")
    role = CharField(max_length=16)
    outgoing = ForeignKeyField(Person, on_delete="RESTRICT")
    incoming = ForeignKeyField(Person, on_delete="RESTRICT")
    state = CharField(max_length=16, default="pending", index=True)
    situation = JSONField(default=dict)
    requested_at = DateTimeField()
    out_confirmed_at = DateTimeField(null=True)
    in_confirmed_at = DateTimeField(null=True)

    class Meta:
        table_name = "handover"


def up(migrator) -> None:
    """Create the handover table."""
    Handover._meta.set_database(migrator.database)
    migrator.database.create_tables([Handover])
