"""Face encoding and matching on the shared photos, and photos that must be refused with a reason."""
from __future__ import annotations

import pytest

import settings
from faces.enrol import enrol
from faces.match import FaceRefused, distance, encode
from models import AuditEvent, FaceEnrolment, find_person

LIMIT = 8 * 1024 * 1024


def test_two_photos_of_one_person_match_and_another_person_does_not(photo):
    obama = encode(photo("obama.jpg"), max_bytes=LIMIT)
    assert distance(obama, encode(photo("obama2.jpg"), max_bytes=LIMIT)) < 0.5
    assert distance(obama, encode(photo("biden.jpg"), max_bytes=LIMIT)) > 0.7


@pytest.mark.parametrize("make, reason", [
    (lambda photo, blank: photo("two_people.jpg"), "照片中有 2 张人脸，请只拍本人"),
    (lambda photo, blank: blank, "照片中没有检测到人脸"),
    (lambda photo, blank: b"%PDF-1.4 not a photo", "无法识别的图片"),
    (lambda photo, blank: photo("obama.jpg")[:30000], "照片文件已损坏"),
    (lambda photo, blank: photo("obama.jpg") + b"\0" * LIMIT, "照片过大（8.3 MB），请发送不超过 8 MB 的照片"),
])
def test_an_unusable_photo_is_refused_with_the_reason(photo, blank_png, make, reason):
    with pytest.raises(FaceRefused) as caught:
        encode(make(photo, blank_png), max_bytes=LIMIT)
    assert reason in caught.value.reason


def test_a_photo_claiming_too_many_pixels_is_refused_before_it_is_decoded(photo):
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")   # tiny file, 48 million pixels
    with pytest.raises(FaceRefused, match="照片尺寸过大（8000×6000）"):
        encode(out.getvalue(), max_bytes=LIMIT)


def test_the_enrolment_keeps_the_photo_only_where_the_plant_says_so(plant, photo, monkeypatch):
    person = find_person("chuwei")
    enrolment = enrol(person, photo("obama.jpg"), source="cli")
    assert len(enrolment.encoding) == 128 and enrolment.photo is None
    monkeypatch.setenv("FACE_KEEP_PHOTOS", "1")
    settings.configure()
    enrol(person, photo("obama2.jpg"), source="cli")
    assert bytes(FaceEnrolment.get(FaceEnrolment.person == person).photo) == photo("obama2.jpg")
    assert FaceEnrolment.select().count() == 1
    assert [e.action for e in AuditEvent.select().where(AuditEvent.action == "face_enrol")] == ["face_enrol"] * 2
