"""Enrolled faces and face checks before signatures."""
from peewee import BlobField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField, Model

from models.db import JSONField
from models.org import Person
from models.permit import Permit


class FaceEnrolment(Model):
    """The face_enrolment table as this migration creates it (frozen)."""
    person = ForeignKeyField(Person, unique=True, on_delete="CASCADE")
    encoding = JSONField()
    photo = BlobField(null=True)
    source = CharField(max_length=16)
    enrolled_at = DateTimeField()

    class Meta:
        table_name = "face_enrolment"


class FaceCheck(Model):
    person = ForeignKeyField(Person, on_delete="CASCADE")
    purpose = CharField(max_length=8)
    permit = ForeignKeyField(Permit, null=True, on_delete="CASCADE")
    step_key = CharField(max_length=32, null=True)
    round = IntegerField(default=0)
    state = CharField(max_length=12, index=True)
    reason = CharField(max_length=200, default="")
    distance = FloatField(null=True)
    created_at = DateTimeField()
    decided_at = DateTimeField(null=True)

    class Meta:
        table_name = "face_check"


def up(migrator) -> None:
    """Create the face_enrolment and face_check tables."""
    for table in (FaceEnrolment, FaceCheck):
        table._meta.set_database(migrator.database)
    migrator.database.create_tables([FaceEnrolment, FaceCheck])
