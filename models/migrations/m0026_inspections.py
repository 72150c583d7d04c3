"""Inspection plans (巡检计划) loaded from Excel, and the rounds the scheduler pushes of them."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model

from models.db import JSONField
from models.org import Person


class Area(Model):
    class Meta:
        table_name = "area"


class Permit(Model):
    class Meta:
        table_name = "permit"


class InspectionPlan(Model):
    """The inspection_plan table as this migration creates it (frozen)."""
    name = CharField(max_length=100, unique=True)
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    work_type = CharField(max_length=32, default="")
    schedule = CharField(max_length=8)
    inspector = ForeignKeyField(Person, on_delete="RESTRICT")
    items = JSONField(default=list)
    active = BooleanField(default=True)
    updated_at = DateTimeField()

    class Meta:
        table_name = "inspection_plan"


class Inspection(Model):
    """The inspection table as this migration creates it (frozen)."""
    plan = ForeignKeyField(InspectionPlan, on_delete="CASCADE")
    starts_at = DateTimeField()
    due_at = DateTimeField()
    inspector = ForeignKeyField(Person, on_delete="RESTRICT")
    items = JSONField(default=list)
    state = CharField(max_length=8, default="pending", index=True)
    failed = JSONField(default=list)
    findings = JSONField(default=list)
    permit = ForeignKeyField(Permit, null=True, on_delete="SET NULL")
    done_at = DateTimeField(null=True)
    remind_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    escalation_level = IntegerField(default=0)

    class Meta:
        table_name = "inspection"
        indexes = ((("plan", "starts_at"), True),)


def up(migrator) -> None:
    """Create the inspection_plan and inspection tables."""
    tables = [InspectionPlan, Inspection]
    for table in tables:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(tables)
