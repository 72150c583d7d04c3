"""Change requests approved beside the permit (route, stage, decisions); each detector's own set points."""
from peewee import IntegerField
from playhouse.migrate import migrate

from models.db import JSONField


def up(migrator) -> None:
    """Add change_request.route, .stage and .decisions, and sensor.set_points."""
    migrate(migrator.add_column("change_request", "route", JSONField(null=True)),
            migrator.add_column("change_request", "stage", IntegerField(default=0)),
            migrator.add_column("change_request", "decisions", JSONField(null=True)),
            migrator.add_column("sensor", "set_points", JSONField(null=True)))
