"""Timers for reminders, escalation and gas re-test reminders, kept on the rows they concern."""
from peewee import DateTimeField, IntegerField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add step.remind_at, step.escalate_at, step.escalation_level and permit.retest_remind_at."""
    migrate(migrator.add_column("step", "remind_at", DateTimeField(null=True)),
            migrator.add_column("step", "escalate_at", DateTimeField(null=True)),
            migrator.add_column("step", "escalation_level", IntegerField(default=0)),
            migrator.add_column("permit", "retest_remind_at", DateTimeField(null=True)),
            migrator.add_index("step", ("remind_at",)),
            migrator.add_index("step", ("escalate_at",)),
            migrator.add_index("permit", ("retest_remind_at",)))
