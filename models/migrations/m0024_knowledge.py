"""The safety knowledge base."""
from peewee import CharField, DateTimeField, Model, TextField

from models.db import JSONField


class KnowledgeEntry(Model):
    """The knowledge_entry table as this migration creates it (frozen)."""
    key = CharField(max_length=64, unique=True)
    kind = CharField(max_length=8)
    title = CharField(max_length=200)
    body = TextField()
    work_types = JSONField(default=list)
    keywords = JSONField(default=list)
    source = CharField(max_length=200, default="")
    updated_at = DateTimeField()

    class Meta:
        table_name = "knowledge_entry"


def up(migrator) -> None:
    """Create the knowledge_entry table."""
    KnowledgeEntry._meta.set_database(migrator.database)
    migrator.database.create_tables([KnowledgeEntry])
