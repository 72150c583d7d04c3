"""Visits to an area's board proved through the app's OAuth, which count as an inspector's presence."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model

from models.org import Person


class Area(Model):
    class Meta:
        table_name = "area"


class AreaVisit(Model):
    """The area_visit table as this migration creates it (frozen)."""
    area = ForeignKeyField(Area, on_delete="RESTRICT")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    platform = CharField(max_length=16)
    at = DateTimeField()

    class Meta:
        table_name = "area_visit"
        indexes = ((("person", "at"), False),)


def up(migrator) -> None:
    """Create the area_visit table."""
    AreaVisit._meta.set_database(migrator.database)
    migrator.database.create_tables([AreaVisit])
