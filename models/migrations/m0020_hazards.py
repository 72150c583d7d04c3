"""Hazard findings (隐患) with their photos, anonymous reports (匿名举报), random permit audits (抽查), and the
chase of a permit's rectification."""
from playhouse.migrate import migrate
from peewee import (BooleanField, CharField, DateField, DateTimeField, FloatField, ForeignKeyField, IntegerField,
                    Model, TextField)

from models.db import JSONField
from models.org import Department, Person


class Area(Model):
    class Meta:
        table_name = "area"


class Finding(Model):
    """The finding table as this migration creates it (frozen)."""
    no = CharField(max_length=32, unique=True)
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    place = CharField(max_length=200)
    description = TextField()
    grade = CharField(max_length=8, default="一般")
    category = CharField(max_length=32, default="")
    source = CharField(max_length=16, default="随手拍")
    state = CharField(max_length=16, default="found", index=True)
    found_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    found_at = DateTimeField(index=True)
    unit = ForeignKeyField(Department, null=True, on_delete="RESTRICT")
    responsible = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    assigned_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    deadline = DateTimeField(null=True)
    rectified_at = DateTimeField(null=True)
    rectified_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    checked_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    closed_at = DateTimeField(null=True)
    rejections = IntegerField(default=0)
    rejected_at = DateTimeField(null=True)
    blocks_permits = BooleanField(default=False)
    remind_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    escalation_level = IntegerField(default=0)

    class Meta:
        table_name = "finding"


class FindingPhoto(Model):
    finding = ForeignKeyField(Finding, on_delete="CASCADE")
    stage = CharField(max_length=8)
    sha256 = CharField(max_length=64)
    size = IntegerField()
    path = CharField(max_length=300)
    uploaded_by = ForeignKeyField(Person, on_delete="RESTRICT")
    created_at = DateTimeField()

    class Meta:
        table_name = "finding_photo"


class AnonymousReport(Model):
    code_hash = CharField(max_length=64, unique=True)
    text = TextField()
    place = CharField(max_length=200, default="")
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    received_on = DateField(index=True)
    state = CharField(max_length=16, default="pending")
    outcome = TextField(default="")
    finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL")
    triaged_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    triaged_at = DateTimeField(null=True)

    class Meta:
        table_name = "anonymous_report"


class Permit(Model):
    class Meta:
        table_name = "permit"


class AuditDraw(Model):
    day = DateField(unique=True)
    seed = CharField(max_length=32)
    share = FloatField()
    population = JSONField(default=list)
    drawn = JSONField(default=list)
    drawn_at = DateTimeField()

    class Meta:
        table_name = "audit_draw"


class PermitAudit(Model):
    draw = ForeignKeyField(AuditDraw, on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")
    officer = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    state = CharField(max_length=8, default="pending")
    items = JSONField(default=list)
    failed = JSONField(default=list)
    note = TextField(default="")
    finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL")
    done_at = DateTimeField(null=True)

    class Meta:
        table_name = "permit_audit"


def up(migrator) -> None:
    """Create the finding, finding_photo, anonymous_report, audit_draw and permit_audit tables; add permit's
    rectification timer."""
    tables = [Finding, FindingPhoto, AnonymousReport, AuditDraw, PermitAudit]
    for table in tables:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(tables)
    migrate(migrator.add_column("permit", "rectify_chase_at", DateTimeField(null=True)),
            migrator.add_column("permit", "rectify_escalations", IntegerField(default=0)),
            migrator.add_index("permit", ("rectify_chase_at",), False))
