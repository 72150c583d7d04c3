"""Enrolled faces and the checks of selfies against them."""
from __future__ import annotations

from peewee import BlobField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField

from .db import BaseModel, JSONField, utcnow
from .org import Person
from .permit import Permit

ENROL, SIGN = "enrol", "sign"                     # what a selfie is for
CHAT, CAMERA = "chat", "camera"                   # a photo sent in chat, or taken through the JS-SDK's camera
WAITING, CHECKING, PASSED, REFUSED = "waiting", "checking", "passed", "refused"


class FaceEnrolment(BaseModel):
    person = ForeignKeyField(Person, backref="faces", unique=True, on_delete="CASCADE")
    encoding = JSONField()                        # face_recognition's 128 numbers
    # The reference photo itself only where the plant's setting keeps it (FACE_KEEP_PHOTOS).
    photo = BlobField(null=True)
    source = CharField(max_length=16)             # chat | cli
    enrolled_at = DateTimeField(default=utcnow)


class FaceCheck(BaseModel):
    """One selfie: an admin's request for an enrolment photo, or a check before a signature."""
    person = ForeignKeyField(Person, backref="face_checks", on_delete="CASCADE")
    purpose = CharField(max_length=8)             # enrol | sign
    permit = ForeignKeyField(Permit, null=True, on_delete="CASCADE")
    step_key = CharField(max_length=32, null=True)
    round = IntegerField(default=0)
    state = CharField(max_length=12, index=True)  # waiting | checking | passed | refused
    reason = CharField(max_length=200, default="")
    distance = FloatField(null=True)
    source = CharField(max_length=8, default=CHAT)
    captured_at = DateTimeField(null=True)        # when the camera took it (camera selfies); UTC
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)
