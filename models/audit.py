"""The hash-chained audit trail and the outbox of messages to send."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .db import BaseModel, JSONField, utcnow
from .org import Person
from .written import Written, note


class AuditEvent(BaseModel):
    seq = IntegerField(unique=True)
    permit_no = CharField(max_length=32, null=True, index=True)
    actor = CharField(max_length=100)
    action = CharField(max_length=32)
    data = JSONField(default=dict)
    created_at = DateTimeField()
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)
    # HMAC of seq and hash under a key the database does not hold; empty on events not yet sealed.
    mac = CharField(max_length=64, null=True)


class AuditHead(BaseModel):
    """One row, locked by every append, so concurrent writers extend one chain instead of forking it."""
    seq = IntegerField(default=0)
    hash = CharField(max_length=64)


class Outbox(BaseModel):
    """A message to deliver, written in the same transaction as the change that causes it."""
    created_at = DateTimeField(default=utcnow, index=True)
    permit_no = CharField(max_length=32, null=True, index=True)
    # Empty for a message to a group (kind "group"), whose payload names the group.
    person = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    kind = CharField(max_length=16)
    payload = JSONField()
    dedupe_key = CharField(max_length=191, unique=True)
    state = CharField(max_length=12, default="pending", index=True)
    attempts = IntegerField(default=0)
    # A worker holds the row until then; a sweep re-enqueues rows whose holder died.
    lease_until = DateTimeField(null=True, index=True)
    sent_at = DateTimeField(null=True)
    last_error = TextField(null=True)

    @classmethod
    def insert(cls, __data=None, **insert):
        # Every write of a row passes here (create and save too), so a request learns its own rows.
        data = cls._normalize_data(__data, insert)
        note(data.get(cls.dedupe_key))
        return super().insert(data)

    @classmethod
    def ids_written(cls, written: Written) -> list[int]:
        """Return the ids of the rows collected in written that exist now: a rolled-back write leaves none."""
        if not written.keys:
            return []
        query = cls.select(cls.id).where(cls.dedupe_key.in_(written.keys)).order_by(cls.id)
        return [row_id for (row_id,) in query.tuples()]
