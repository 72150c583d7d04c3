"""Emergencies raised for an area (一键应急) and their muster."""
from peewee import BooleanField, DateTimeField, ForeignKeyField, Model, TextField

from models.db import JSONField
from models.org import Person
from models.sensor import Alarm


class Area(Model):
    class Meta:
        table_name = "area"


class Emergency(Model):
    """The emergency table as this migration creates it (frozen)."""
    area = ForeignKeyField(Area, on_delete="RESTRICT")
    drill = BooleanField(default=False)
    text = TextField()
    raised_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    raised_at = DateTimeField(index=True)
    alarm = ForeignKeyField(Alarm, on_delete="RESTRICT")
    permit_nos = JSONField(default=list)
    suspended = JSONField(default=list)
    closed_at = DateTimeField(null=True, index=True)
    closed_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    handling = TextField(default="")

    class Meta:
        table_name = "emergency"


def up(migrator) -> None:
    """Create the emergency table."""
    Emergency._meta.set_database(migrator.database)
    migrator.database.create_tables([Emergency])
