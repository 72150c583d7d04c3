"""The plant's area tree, and each permit's node of it and named coordinator."""
from peewee import BooleanField, CharField, DoubleField, FloatField, ForeignKeyField, Model
from playhouse.migrate import migrate

from models.org import Person


class Area(Model):
    """The area table as this migration creates it (frozen)."""
    name = CharField(max_length=100, unique=True)
    parent = ForeignKeyField("self", null=True, on_delete="RESTRICT")
    kind = CharField(max_length=8)
    latitude = DoubleField(null=True)
    longitude = DoubleField(null=True)
    radius = FloatField(null=True)
    safety_officer = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    coordinator = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    active = BooleanField(default=True)

    class Meta:
        table_name = "area"


def up(migrator) -> None:
    """Create the area table; add permit.area_id and permit.coordinator_id."""
    Area._meta.set_database(migrator.database)
    migrator.database.create_tables([Area])
    # Permits from before the tree keep their free-text location and no node.
    migrate(migrator.add_column("permit", "area_id", ForeignKeyField(Area, null=True, field=Area.id,
                                                                     on_delete="RESTRICT")),
            migrator.add_column("permit", "coordinator_id", ForeignKeyField(Person, null=True, field=Person.id,
                                                                            on_delete="RESTRICT")))
