"""Safety tools (安全工器具): the tool register and its loans."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model

from models.org import Person


class Tool(Model):
    """The tool table as this migration creates it (frozen)."""
    no = CharField(max_length=32, unique=True)
    kind = CharField(max_length=32, index=True)
    cycle_months = IntegerField()
    tested_on = DateField()
    due_on = DateField(index=True)
    keeper = ForeignKeyField(Person, on_delete="RESTRICT")
    limit_hours = IntegerField(default=12)
    holder = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    out_at = DateTimeField(null=True)
    chase_at = DateTimeField(null=True, index=True)
    warned_for = DateField(null=True)
    updated_at = DateTimeField()

    class Meta:
        table_name = "tool"


class ToolLoan(Model):
    tool = ForeignKeyField(Tool, on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    out_at = DateTimeField()
    back_at = DateTimeField(null=True)
    back_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    chases = IntegerField(default=0)

    class Meta:
        table_name = "tool_loan"


def up(migrator) -> None:
    """Create the tool and tool_loan tables."""
    for table in (Tool, ToolLoan):
        table._meta.set_database(migrator.database)
    migrator.database.create_tables([Tool, ToolLoan])
