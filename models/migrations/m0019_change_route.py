"""Change requests approved beside the permit (route, stage, decisions); each detector's own set points; the round of a permit's site QR code."""
from peewee import IntegerField
from playhouse.migrate import migrate

from models.db import JSONField


def up(migrator) -> None:
    """Add change_request.route, .stage and .decisions, sensor.set_points and permit.site_code_round."""
    migrate(migrator.add_column("change_request", "route", JSONField(null=True)),
            migrator.add_column("change_request", "stage", IntegerField(default=0)),
            migrator.add_column("change_request", "decisions", JSONField(null=True)),
            migrator.add_column("sensor", "set_points", JSONField(null=True)),
            migrator.add_column("permit", "site_code_round", IntegerField(default=0)))
