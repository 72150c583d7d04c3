"""Energy isolation points and the permits that depend on them."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model

from models.org import Department, Person
from models.permit import Attachment, Permit


class IsolationPoint(Model):
    """The isolation_point table as this migration creates it (frozen)."""
    tag = CharField(max_length=64, index=True)
    kind = CharField(max_length=8)
    method = CharField(max_length=32)
    lock_no = CharField(max_length=32)
    tag_no = CharField(max_length=32)
    unit = ForeignKeyField(Department, on_delete="RESTRICT")
    state = CharField(max_length=12, default="isolated", index=True)
    isolated_by = ForeignKeyField(Person, on_delete="RESTRICT")
    isolated_at = DateTimeField()
    verified_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    verified_at = DateTimeField(null=True)
    photo = ForeignKeyField(Attachment, null=True, on_delete="SET NULL")
    release_to = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    released_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    released_at = DateTimeField(null=True)

    class Meta:
        table_name = "isolation_point"


class IsolationLink(Model):
    point = ForeignKeyField(IsolationPoint, on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")
    purpose = CharField(max_length=8, default="depends")
    added_by = ForeignKeyField(Person, on_delete="RESTRICT")
    added_at = DateTimeField()

    class Meta:
        table_name = "isolation_link"
        indexes = ((("point", "permit"), True),)


def up(migrator) -> None:
    """Create the isolation_point and isolation_link tables."""
    for table in (IsolationPoint, IsolationLink):
        table._meta.set_database(migrator.database)
    migrator.database.create_tables([IsolationPoint, IsolationLink])
