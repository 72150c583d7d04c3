"""Gas detectors, the permits they watch, and the alarms they raise."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField

from .db import BaseModel, JSONField, utcnow
from .org import Department, Person
from .permit import Permit

PORTABLE, FIXED = "便携", "固定"


class Gateway(BaseModel):
    """A gas-detection controller that signs one post carrying its detectors' readings."""
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    secret = CharField(max_length=64)                   # shown to the admin once, like a detector's
    enabled = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)


class Sensor(BaseModel):
    """A registered detector; it signs what it posts with its own secret."""
    code = CharField(max_length=32, unique=True)        # 编号, e.g. GD-0012
    name = CharField(max_length=100)
    area = CharField(max_length=200)                    # 区域/位置: a fixed detector covers it
    kind = CharField(max_length=8)                      # 便携 / 固定
    gases = JSONField(default=list)                     # codes of workflow/gases.toml it measures
    interval_seconds = IntegerField()
    unit = ForeignKeyField(Department, null=True, on_delete="SET NULL")  # whose 安全员 hears its alarms
    # HMAC needs the key itself, so it is kept (and shown to the admin once, at registration).
    secret = CharField(max_length=64)
    enabled = BooleanField(default=True)
    last_seen_at = DateTimeField(null=True, index=True)
    # Set when the detector was declared offline; its next reading clears it.
    offline_since = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    # The controller that may post this detector's readings in its batches; none: only itself.
    gateway = ForeignKeyField(Gateway, null=True, backref="sensors", on_delete="SET NULL")
    # The detector's own alarm set points, {gas: [first, second]}, where the sheet set them; the
    # others follow workflow/gases.toml.
    set_points = JSONField(null=True)


class SensorBinding(BaseModel):
    """A detector watching a permit: a portable one bound by number, until the permit ends."""
    sensor = ForeignKeyField(Sensor, backref="bindings", on_delete="CASCADE")
    permit = ForeignKeyField(Permit, backref="sensor_bindings", on_delete="CASCADE")
    bound_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    bound_at = DateTimeField(default=utcnow)
    released_at = DateTimeField(null=True, index=True)


class Alarm(BaseModel):
    """One alarm of one detector (or of a manual reading), from raising to acknowledgement."""
    sensor = ForeignKeyField(Sensor, null=True, backref="alarms", on_delete="SET NULL")
    device = CharField(max_length=64, null=True)
    level = CharField(max_length=8)     # 一级 / 二级 / 超限 / 离线 (sensors.levels)
    gas = CharField(max_length=8, null=True)
    value = FloatField(null=True)
    text = CharField(max_length=500)
    area = CharField(max_length=200, default="")
    permit_nos = JSONField(default=list)
    suspended = JSONField(default=list)  # permits this alarm suspended
    recipients = JSONField(default=list)  # person ids that got the card, in every round
    reading_at = DateTimeField()         # when the reading was taken (response time starts here)
    raised_at = DateTimeField(default=utcnow, index=True)
    acknowledged_at = DateTimeField(null=True)
    acknowledged_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    # Re-send and escalate while nobody acknowledges; cleared by the first acknowledgement.
    resend_at = DateTimeField(null=True, index=True)
    rounds = IntegerField(default=1)
    cleared_at = DateTimeField(null=True, index=True)


class AlarmAck(BaseModel):
    """Each person's 确认收到 of an alarm card."""
    alarm = ForeignKeyField(Alarm, backref="acks", on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    at = DateTimeField(default=utcnow)
    channel = CharField(max_length=16, default="cli")

    class Meta:
        indexes = ((("alarm", "person"), True),)


class ReadingRollup(BaseModel):
    """One detector's readings of one minute, kept where the raw readings were pruned."""
    device = CharField(max_length=64)
    minute = DateTimeField()                            # naive UTC, the minute's first second
    count = IntegerField()
    last_at = DateTimeField()                           # taken_at of the reading `*_last` comes from
    o2_min, o2_max, o2_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    ex_min, ex_max, ex_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    h2s_min, h2s_max, h2s_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    co_min, co_max, co_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    others = JSONField(null=True)                       # every other gas: {code: [min, max, last]}

    class Meta:
        indexes = ((("device", "minute"), True),)


class RegistryVersion(BaseModel):
    """One row whose value grows whenever a detector, gateway or binding changes."""
    value = IntegerField(default=0)

    @classmethod
    def bump(cls) -> None:
        """Tell every process to rebuild its detector map (inside the caller's transaction)."""
        if not cls.update(value=cls.value + 1).execute():
            cls.create(value=1)

    @classmethod
    def current(cls) -> int:
        """Return the counter's value (0 before the first change)."""
        row = cls.select(cls.value).first()
        return row.value if row else 0
