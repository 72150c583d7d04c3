"""Energy isolation (能量隔离 / 上锁挂牌): the points locked out, and the permits that depend on them."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField

from .db import BaseModel, utcnow
from .org import Department, Person
from .permit import Attachment, Permit

STATE_LABELS = {"isolated": "已隔离待确认", "verified": "已确认", "releasing": "待解除", "released": "已解除"}


class IsolationPoint(BaseModel):
    """One valve, breaker or blind held in a safe state for as long as any permit needs it.

    state: isolated (locked and tagged), verified (checked by a second person), releasing (every
    dependent permit has ended; its release is assigned), released.
    """
    tag = CharField(max_length=64, index=True)        # the plant's number of the valve, breaker or blind
    kind = CharField(max_length=8)                     # 阀门, 断路器, 盲板
    method = CharField(max_length=32)
    lock_no = CharField(max_length=32)
    tag_no = CharField(max_length=32)
    unit = ForeignKeyField(Department, on_delete="RESTRICT")
    state = CharField(max_length=12, default="isolated", index=True)
    isolated_by = ForeignKeyField(Person, on_delete="RESTRICT")
    isolated_at = DateTimeField(default=utcnow)
    verified_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    verified_at = DateTimeField(null=True)
    photo = ForeignKeyField(Attachment, null=True, on_delete="SET NULL")
    release_to = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    released_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    released_at = DateTimeField(null=True)


class IsolationLink(BaseModel):
    """A permit's tie to a point: it depends on it (needs it isolated), or, for 盲板抽堵, fits or removes it."""
    point = ForeignKeyField(IsolationPoint, backref="links", on_delete="CASCADE")
    permit = ForeignKeyField(Permit, backref="isolations", on_delete="CASCADE")
    purpose = CharField(max_length=8, default="depends")   # depends, fits, removes
    added_by = ForeignKeyField(Person, on_delete="RESTRICT")
    added_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("point", "permit"), True),)
