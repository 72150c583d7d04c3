"""Inspection plans (巡检计划): a checklist for an area or a work type on a schedule, and each round of it."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

from .area import Area
from .db import BaseModel, JSONField, utcnow

from .org import Person
from .permit import Permit

# Schedules as the workbook names them.
DAILY, WEEKLY, SHIFT = "每日", "每周", "每班"
SCHEDULES = (DAILY, WEEKLY, SHIFT)

# A round's states: pushed to the inspector and waiting, or done on site.
PENDING, DONE = "pending", "done"


class InspectionPlan(BaseModel):
    name = CharField(max_length=100, unique=True)
    # Exactly one of the two says what is inspected: a place of the tree, or the work of one type.
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    work_type = CharField(max_length=32, default="")
    schedule = CharField(max_length=8)
    inspector = ForeignKeyField(Person, on_delete="RESTRICT")
    items = JSONField(default=list)
    # A plan left out of a later workbook stops; its rounds stay in the record.
    active = BooleanField(default=True)
    updated_at = DateTimeField(default=utcnow)


class Inspection(BaseModel):
    """One round of a plan: pushed when its period starts, due when the period's working time ends."""
    plan = ForeignKeyField(InspectionPlan, backref="rounds", on_delete="CASCADE")
    starts_at = DateTimeField()                  # the period's start, in UTC: one round per plan and start
    due_at = DateTimeField()
    inspector = ForeignKeyField(Person, on_delete="RESTRICT")
    items = JSONField(default=list)              # as pushed, so a later workbook cannot rewrite a done round
    state = CharField(max_length=8, default=PENDING, index=True)
    failed = JSONField(default=list)             # the numbers (from 1) of the items ticked 不符合
    findings = JSONField(default=list)           # the finding numbers they opened
    permit = ForeignKeyField(Permit, null=True, on_delete="SET NULL")   # whose site code proved presence
    done_at = DateTimeField(null=True)
    # The overdue chase, as a finding's: indexed, scanned often, taken by a conditional update.
    remind_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    escalation_level = IntegerField(default=0)

    class Meta:
        indexes = ((("plan", "starts_at"), True),)



