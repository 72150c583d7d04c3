"""Pre-shift meetings (班前会): a crew leader's meeting of the day, the permits it covers and who attended."""
from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField

from .db import BaseModel, utcnow
from .org import Person
from .permit import Permit


class Meeting(BaseModel):
    """One crew leader's meeting on one plant-local day; holding it again the same day adds to it."""
    leader = ForeignKeyField(Person, backref="meetings", on_delete="RESTRICT")
    day = DateField(index=True)
    place = CharField(max_length=200, default="")   # where it is held: the place of its first permit
    held_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("leader", "day"), True),)


class MeetingPermit(BaseModel):
    """A permit the meeting went through: its start waits for this meeting where the plant says so."""
    meeting = ForeignKeyField(Meeting, backref="permits", on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")

    class Meta:
        indexes = ((("meeting", "permit"), True),)


class MeetingAttendee(BaseModel):
    """Someone of the crew: expected at the meeting, checked in by scanning its code, then confirmed."""
    meeting = ForeignKeyField(Meeting, backref="attendees", on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    roles = CharField(max_length=100, default="")   # 作业负责人、作业人、监护人, as on the permits
    checked_in_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("meeting", "person"), True),)
