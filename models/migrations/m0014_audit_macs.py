"""Keyed MACs on the audit chain: a column for each event's MAC, empty on events written before it.

Events already stored keep an empty MAC until `python app.py seal-audit` checks their unkeyed chain
and seals them with the audit key; verify-audit names every unsealed event until then.
"""
from peewee import CharField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add audit_event.mac (nullable)."""
    migrate(migrator.add_column("audit_event", "mac", CharField(max_length=64, null=True)))
