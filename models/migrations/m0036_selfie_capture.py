"""How each selfie was taken (a chat photo or the platform's camera) and when its camera took it."""
from peewee import CharField, DateTimeField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add face_check.source and face_check.captured_at."""
    migrate(migrator.add_column("face_check", "source", CharField(max_length=8, default="chat")),
            migrator.add_column("face_check", "captured_at", DateTimeField(null=True)))
