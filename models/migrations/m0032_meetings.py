"""Pre-shift meetings (班前会): the meeting, the permits it covers and its attendees."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, Model

from models.org import Person


class Permit(Model):
    class Meta:
        table_name = "permit"


class Meeting(Model):
    """The meeting table as this migration creates it (frozen)."""
    leader = ForeignKeyField(Person, on_delete="RESTRICT")
    day = DateField(index=True)
    place = CharField(max_length=200, default="")
    held_at = DateTimeField()

    class Meta:
        table_name = "meeting"
        indexes = ((("leader", "day"), True),)


class MeetingPermit(Model):
    meeting = ForeignKeyField(Meeting, on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")

    class Meta:
        table_name = "meeting_permit"
        indexes = ((("meeting", "permit"), True),)


class MeetingAttendee(Model):
    meeting = ForeignKeyField(Meeting, on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    roles = CharField(max_length=100, default="")
    checked_in_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)

    class Meta:
        table_name = "meeting_attendee"
        indexes = ((("meeting", "person"), True),)


def up(migrator) -> None:
    """Create the meeting, meeting_permit and meeting_attendee tables."""
    for table in (Meeting, MeetingPermit, MeetingAttendee):
        table._meta.set_database(migrator.database)
    migrator.database.create_tables([Meeting, MeetingPermit, MeetingAttendee])
