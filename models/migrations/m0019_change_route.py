"""Change requests approved beside the permit: the route of approval steps, the stage reached, the decisions."""
from peewee import IntegerField
from playhouse.migrate import migrate

from models.db import JSONField


def up(migrator) -> None:
    """Add change_request.route, .stage and .decisions."""
    migrate(migrator.add_column("change_request", "route", JSONField(null=True)),
            migrator.add_column("change_request", "stage", IntegerField(default=0)),
            migrator.add_column("change_request", "decisions", JSONField(null=True)))
