"""On-site check-ins by scan: check-out and visits, the person's role, the phone's location."""
from peewee import CharField, DoubleField, FloatField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add check_in.kind, role, latitude, longitude and accuracy."""
    # Rows from before were all check-ins of people on the permit (the only kind there was).
    migrate(migrator.add_column("check_in", "kind", CharField(max_length=8, default="in")),
            migrator.add_column("check_in", "role", CharField(max_length=100, default="")),
            migrator.add_column("check_in", "latitude", DoubleField(null=True)),
            migrator.add_column("check_in", "longitude", DoubleField(null=True)),
            migrator.add_column("check_in", "accuracy", FloatField(null=True)))
