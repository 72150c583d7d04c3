"""Each person's platform choice in the database: Redis may lose it, and cards would go to the other app."""
from peewee import CharField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add person.platform (nullable: nobody has chosen yet)."""
    migrate(migrator.add_column("person", "platform", CharField(max_length=16, null=True)))
