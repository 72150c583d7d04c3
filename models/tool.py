"""Safety tools (安全工器具): the register, who holds each tool, and every loan."""
from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField

from .db import BaseModel, utcnow
from .org import Person


class Tool(BaseModel):
    no = CharField(max_length=32, unique=True)       # the number painted on the tool and printed on its label
    kind = CharField(max_length=32, index=True)      # what a template step asks for, e.g. 便携式气体检测仪
    cycle_months = IntegerField()
    tested_on = DateField()
    due_on = DateField(index=True)                   # tested_on + cycle: the last day it may be used
    keeper = ForeignKeyField(Person, on_delete="RESTRICT")
    limit_hours = IntegerField(default=12)           # how long one loan may last before it is chased
    holder = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    out_at = DateTimeField(null=True)
    chase_at = DateTimeField(null=True, index=True)  # when the holder is next asked to bring it back
    warned_for = DateField(null=True)                # the due date the keeper was last warned about
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def in_force(cls) -> bool:
        """Whether steps that name tools demand them: only once the plant has loaded a tool register."""
        return cls.select().exists()


class ToolLoan(BaseModel):
    tool = ForeignKeyField(Tool, backref="loans", on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    out_at = DateTimeField()
    back_at = DateTimeField(null=True)
    back_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    chases = IntegerField(default=0)
