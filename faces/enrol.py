"""Enrol a person's reference face: from a photo file (CLI) or a selfie sent in chat at an admin's request."""
from __future__ import annotations

import settings
from models import FaceCheck, FaceEnrolment, Person, transaction, utcnow
from models.face import ENROL, WAITING
from workflow import audit

from .match import encode


def enrol(person: Person, data: bytes, *, source: str, by: Person | None = None) -> FaceEnrolment:
    """Store the encoding of the one face in data as person's reference; FaceRefused if unusable."""
    conf = settings.current()
    encoding = encode(data, max_bytes=conf.face_max_bytes)
    photo = data if conf.face_keep_photos else None
    with transaction():
        FaceEnrolment.delete().where(FaceEnrolment.person == person).execute()
        enrolment = FaceEnrolment.create(person=person, encoding=encoding, photo=photo, source=source)
        audit.append(permit_no=None, actor=(by or person).label(), action="face_enrol",
                     data={"person": person.label(), "source": source, "photo_kept": photo is not None},
                     at=utcnow())
    return enrolment


def request(person: Person, *, by: Person) -> FaceCheck:
    """Ask person for an enrolment selfie: their next photo in chat is taken as their reference."""
    FaceCheck.delete().where((FaceCheck.person == person) & (FaceCheck.purpose == ENROL)
                             & (FaceCheck.state == WAITING)).execute()
    return FaceCheck.create(person=person, purpose=ENROL, state=WAITING, reason=f"由 {by.name} 发起")
