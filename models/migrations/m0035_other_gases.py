"""Readings of the gases beyond O2, EX, H2S and CO: one JSON column beside the four, raw and rolled up."""
from playhouse.migrate import migrate

from models.db import JSONField


def up(migrator) -> None:
    """Add gas_reading.others and reading_rollup.others."""
    migrate(migrator.add_column("gas_reading", "others", JSONField(null=True)),
            migrator.add_column("reading_rollup", "others", JSONField(null=True)))
