"""The registry of a park deployment's enterprises, each with a database of its own."""
from peewee import CharField, DateTimeField, Model


class Enterprise(Model):
    """The enterprise table as this migration creates it (frozen)."""
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    database_url = CharField(max_length=500)
    created_at = DateTimeField()

    class Meta:
        table_name = "enterprise"


def up(migrator) -> None:
    """Create the enterprise table."""
    Enterprise._meta.set_database(migrator.database)
    migrator.database.create_tables([Enterprise])
