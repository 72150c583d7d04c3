"""A permit, its steps and everything signed, measured or attached on it."""
from __future__ import annotations

from peewee import (BigIntegerField, BooleanField, CharField, DateTimeField, DoubleField, FloatField,
                    ForeignKeyField, IntegerField, TextField)

from .area import Area
from .db import BaseModel, JSONField, utcnow
from .org import Department, Person


class Permit(BaseModel):
    no = CharField(max_length=32, unique=True)
    work_type = CharField(max_length=32, index=True)
    grade = CharField(max_length=8, null=True)
    # One field holds the lifecycle state; workflow/states.py lists the values.
    state = CharField(max_length=16, index=True)
    version = IntegerField(default=1)
    unit = ForeignKeyField(Department, backref="permits", on_delete="RESTRICT")
    applicant = ForeignKeyField(Person, backref="applied_permits", on_delete="RESTRICT")
    # The place as the applicant wrote it: a node's name, then the exact spot within it.
    location = CharField(max_length=200)
    # The node of the area tree the location names; empty only where the plant has no tree.
    area = ForeignKeyField(Area, null=True, backref="permits", on_delete="RESTRICT")
    # Someone the applicant named to coordinate overlapping work, instead of the area's coordinator.
    coordinator = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    content = TextField()
    medium = CharField(max_length=50, null=True)
    planned_start = DateTimeField()
    planned_end = DateTimeField(index=True)
    # Type-specific facts: declared grade, height, load, wind force, blind number, ...
    attributes = JSONField(default=dict)
    copied_from = CharField(max_length=32, null=True)
    # How many times the site QR code was revoked and re-issued: the site and print links sign it,
    # so bumping it voids this permit's posted code alone.
    site_code_round = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    submitted_at = DateTimeField(null=True)
    issued_at = DateTimeField(null=True)
    started_at = DateTimeField(null=True)
    suspended_at = DateTimeField(null=True)
    # When a suspended permit's gas tester is to be asked for a re-test (cleared once asked).
    retest_remind_at = DateTimeField(null=True, index=True)
    completed_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    rectify_deadline = DateTimeField(null=True)
    # The deadline's chase: when it next acts (indexed, scanned often) and how far up the unit it has gone.
    rectify_chase_at = DateTimeField(null=True, index=True)
    rectify_escalations = IntegerField(default=0)


class PermitMember(BaseModel):
    """Someone the applicant named on the permit: a worker (作业人) or a guardian (监护人)."""
    permit = ForeignKeyField(Permit, backref="members", on_delete="CASCADE")
    person = ForeignKeyField(Person, backref="memberships", on_delete="RESTRICT")
    role = CharField(max_length=16)

    class Meta:
        indexes = ((("permit", "person", "role"), True),)


class Step(BaseModel):
    permit = ForeignKeyField(Permit, backref="steps", on_delete="CASCADE")
    key = CharField(max_length=32)
    seq = IntegerField()
    name = CharField(max_length=50)
    phase = CharField(max_length=16)
    # pending → active → done; skipped when the permit's grade leaves it out.
    state = CharField(max_length=12, default="pending")
    # Bumped each time the step is opened again (return for revision, change request).
    round = IntegerField(default=0)
    activated_at = DateTimeField(null=True)
    due_at = DateTimeField(null=True, index=True)
    completed_at = DateTimeField(null=True)
    # The step's own timers: each is cleared (or moved on) in the transaction that acts on it, so
    # a scan sends every reminder and escalation once, whatever crashes or clock steps happen.
    remind_at = DateTimeField(null=True, index=True)
    escalate_at = DateTimeField(null=True, index=True)
    escalation_level = IntegerField(default=0)

    class Meta:
        indexes = ((("permit", "key"), True),)


class StepAssignee(BaseModel):
    step = ForeignKeyField(Step, backref="assignees", on_delete="CASCADE")
    person = ForeignKeyField(Person, backref="assignments", on_delete="RESTRICT")
    round = IntegerField()
    reason = CharField(max_length=16, default="assigned")

    class Meta:
        indexes = ((("step", "person", "round"), True),)


class Signature(BaseModel):
    permit = ForeignKeyField(Permit, backref="signatures", on_delete="CASCADE")
    step = ForeignKeyField(Step, backref="signatures", on_delete="CASCADE")
    round = IntegerField()
    person = ForeignKeyField(Person, backref="signatures", on_delete="RESTRICT")
    decision = CharField(max_length=16)
    comment = TextField(default="")
    evidence = JSONField(default=dict)
    channel = CharField(max_length=16, default="cli")
    signed_at = DateTimeField(default=utcnow)


class GasReading(BaseModel):
    permit = ForeignKeyField(Permit, backref="gas_readings", null=True, on_delete="CASCADE")
    device = CharField(max_length=64, null=True)
    tester = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    taken_at = DateTimeField(index=True)
    recorded_at = DateTimeField(default=utcnow)
    o2 = FloatField(null=True)       # %vol
    ex = FloatField(null=True)       # %LEL
    h2s = FloatField(null=True)      # mg/m³
    co = FloatField(null=True)       # mg/m³
    # Every other gas of workflow/gases.toml, {code: value} in the table's unit; null when none.
    others = JSONField(null=True)
    location_note = CharField(max_length=200, default="")
    passed = BooleanField(null=True)
    verdict = JSONField(default=dict)

    class Meta:
        # A detector's readings are found by device and time: replays, the ledger, the board.
        indexes = ((("device", "taken_at"), False),)


class Attachment(BaseModel):
    permit = ForeignKeyField(Permit, backref="attachments", on_delete="CASCADE")
    step = ForeignKeyField(Step, null=True, on_delete="SET NULL")
    kind = CharField(max_length=32)
    filename = CharField(max_length=200)
    sha256 = CharField(max_length=64)
    size = BigIntegerField()
    path = CharField(max_length=300)
    uploaded_by = ForeignKeyField(Person, on_delete="RESTRICT")
    created_at = DateTimeField(default=utcnow)


class CheckIn(BaseModel):
    """Proof that a person stood at the work site (scan of the permit's on-site QR code).

    kind: in (签到), out (离开现场), or visit (someone not on the permit: recorded, gives no rights).
    """
    permit = ForeignKeyField(Permit, backref="checkins", on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    at = DateTimeField(index=True)
    source = CharField(max_length=16, default="cli")
    kind = CharField(max_length=8, default="in")
    role = CharField(max_length=100, default="")     # the person's part in the permit at the time
    # Where the phone said it was, when the page could ask it (WGS-84 degrees, metres).
    # Double precision: MySQL's FLOAT keeps about 7 digits, which moves a longitude by ~10 m.
    latitude = DoubleField(null=True)
    longitude = DoubleField(null=True)
    accuracy = FloatField(null=True)


class ChangeRequest(BaseModel):
    permit = ForeignKeyField(Permit, backref="changes", on_delete="CASCADE")
    requested_by = ForeignKeyField(Person, on_delete="RESTRICT")
    changes = JSONField()          # {field: [old, new]}
    reason = TextField(default="")
    from_step = CharField(max_length=32)
    prior_state = CharField(max_length=16)
    state = CharField(max_length=12, default="pending")
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)
    # The approval steps whose signers approve the change, in order, and how far it has got; each
    # decision is {"stage", "person", "decision", "comment", "at"}. Empty on changes made before.
    route = JSONField(null=True)
    stage = IntegerField(default=0)
    decisions = JSONField(null=True)


class PermitCounter(BaseModel):
    """The last sequence number handed out per prefix and day, e.g. DH-20261124."""
    key = CharField(max_length=32, unique=True)
    value = IntegerField(default=0)
