"""Hazards found on site (隐患) and their rectification, and anonymous reports (匿名举报)."""
from __future__ import annotations

from peewee import (BooleanField, CharField, DateField, DateTimeField, FloatField, ForeignKeyField, IntegerField,
                    TextField)

from .area import Area
from .db import BaseModel, JSONField, utcnow
from .org import Department, Person
from .permit import Permit

# Grades as GB/T 33000-style ledgers name them; 重大 ones reach the safety department at once.
ORDINARY, MAJOR = "一般", "重大"
GRADES = (ORDINARY, MAJOR)
# Where a finding came from (the ledger's 来源 column).
SOURCE_CHAT, SOURCE_REPORT, SOURCE_AUDIT, SOURCE_INSPECTION = "随手拍", "举报", "抽查", "巡检"

# The finding's states, in the order of its flow; a failed re-check goes back to rectifying.
FOUND, ASSIGNED, RECTIFYING, RECTIFIED, CLOSED = "found", "assigned", "rectifying", "rectified", "closed"
STATE_NAMES = {FOUND: "待指派", ASSIGNED: "已指派", RECTIFYING: "整改中", RECTIFIED: "待复查", CLOSED: "已关闭"}
OPEN_STATES = (FOUND, ASSIGNED, RECTIFYING, RECTIFIED)


class Finding(BaseModel):
    no = CharField(max_length=32, unique=True)          # YH-20261124-0001
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    place = CharField(max_length=200)                   # as written, the node's name first
    description = TextField()
    grade = CharField(max_length=8, default=ORDINARY)
    category = CharField(max_length=32, default="")
    source = CharField(max_length=16, default=SOURCE_CHAT)
    state = CharField(max_length=16, default=FOUND, index=True)
    # The inspector: who found it and re-checks it. None only for a finding triaged from an anonymous report.
    found_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    found_at = DateTimeField(default=utcnow, index=True)
    unit = ForeignKeyField(Department, null=True, on_delete="RESTRICT")
    responsible = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    assigned_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    deadline = DateTimeField(null=True)
    rectified_at = DateTimeField(null=True)
    rectified_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    checked_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    closed_at = DateTimeField(null=True)
    rejections = IntegerField(default=0)
    rejected_at = DateTimeField(null=True)   # the rejected rectification's photos count no more
    # A 重大 finding may hold new permits in its area (and below) until it is closed.
    blocks_permits = BooleanField(default=False)
    # Timers of the deadline scan, cleared or moved by whatever acts on them (indexed: scanned often).
    remind_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    escalation_level = IntegerField(default=0)


class FindingPhoto(BaseModel):
    finding = ForeignKeyField(Finding, backref="photos", on_delete="CASCADE")
    stage = CharField(max_length=8)                     # 发现 or 整改
    sha256 = CharField(max_length=64)
    size = IntegerField()
    path = CharField(max_length=300)
    uploaded_by = ForeignKeyField(Person, on_delete="RESTRICT")
    created_at = DateTimeField(default=utcnow)


# An anonymous report's states.
PENDING, ACCEPTED, DISMISSED = "pending", "accepted", "dismissed"
REPORT_STATE_NAMES = {PENDING: "待处理", ACCEPTED: "已立为隐患", DISMISSED: "不予立案"}


class AnonymousReport(BaseModel):
    """A report with no link to who made it: no person, no platform id, and only the day it came in."""
    code_hash = CharField(max_length=64, unique=True)   # keyed hash of the follow-up code the reporter holds
    text = TextField()
    place = CharField(max_length=200, default="")
    area = ForeignKeyField(Area, null=True, on_delete="RESTRICT")
    received_on = DateField(index=True)                 # the plant's local day, never the instant
    state = CharField(max_length=16, default=PENDING)
    outcome = TextField(default="")                     # the reason of a dismissal, shown to the reporter
    finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL")
    triaged_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    triaged_at = DateTimeField(null=True)


class AuditDraw(BaseModel):
    """One day's random draw of permits in progress: the seed and the population make it reproducible."""
    day = DateField(unique=True)            # the plant-local day drawn for
    seed = CharField(max_length=32)
    share = FloatField()
    population = JSONField(default=list)    # the permits in progress, sorted, that the draw chose from
    drawn = JSONField(default=list)
    drawn_at = DateTimeField(default=utcnow)


# A permit audit's states.
AUDIT_PENDING, AUDIT_PASSED, AUDIT_FAILED = "pending", "passed", "failed"
AUDIT_STATE_NAMES = {AUDIT_PENDING: "待抽查", AUDIT_PASSED: "合格", AUDIT_FAILED: "不合格"}


class PermitAudit(BaseModel):
    draw = ForeignKeyField(AuditDraw, backref="audits", on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")
    officer = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    state = CharField(max_length=8, default=AUDIT_PENDING)
    items = JSONField(default=list)         # the measures checked, as sent to the officer
    failed = JSONField(default=list)        # the numbers of the items found wanting
    note = TextField(default="")
    finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL")
    done_at = DateTimeField(null=True)
