"""The capture time a camera writes into its photo, and the refusal of a selfie taken too long ago."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from PIL import Image

import settings
from faces.live import capture_time, judge, opened, token
from faces.match import FaceRefused
from models import Person, Step
from models.permit import Permit

RECEIVED = datetime(2026, 12, 7, 6, 0, 0)   # UTC, as the database keeps it


def jpeg(taken: str | None = None, offset: str | None = None) -> bytes:
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if offset:
        exif.get_ifd(0x8769)[0x9011] = offset
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 90, 90)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_the_camera_time_is_read_with_its_offset_or_in_the_plants_zone():
    assert capture_time(jpeg("2026:12:07 14:00:05", "+08:00")) == datetime(2026, 12, 7, 6, 0, 5)
    assert capture_time(jpeg("2026:12:07 06:00:05", "+00:00")) == datetime(2026, 12, 7, 6, 0, 5)
    assert settings.current().plant_tz.key == "Asia/Shanghai"
    assert capture_time(jpeg("2026:12:07 14:00:05")) == datetime(2026, 12, 7, 6, 0, 5)


@pytest.mark.parametrize("data", [jpeg(), jpeg("not a time"), b"\x89PNG\r\n\x1a\n broken", b""])
def test_a_photo_without_a_readable_capture_time_has_none(data):
    assert capture_time(data) is None


@pytest.mark.parametrize("age", [timedelta(0), timedelta(minutes=3), timedelta(seconds=-60)])
def test_a_capture_within_the_limit_passes_the_limit_itself_included(age):
    judge(RECEIVED - age, RECEIVED)


@pytest.mark.parametrize("captured, reason", [
    (RECEIVED - timedelta(minutes=3, seconds=1), "照片拍摄于 3 分钟前，超过 3 分钟，请现场重新自拍"),
    (RECEIVED - timedelta(hours=2), "照片拍摄于 120 分钟前，超过 3 分钟，请现场重新自拍"),
    (RECEIVED + timedelta(seconds=61), "照片的拍摄时间晚于服务器时间，请校准手机时间后重新自拍"),
    (None, "照片没有拍摄时间，无法确认是现场拍摄，请在自拍页面用相机重新拍摄"),
])
def test_an_old_a_future_or_an_unstamped_capture_is_refused_naming_why(captured, reason):
    with pytest.raises(FaceRefused) as refused:
        judge(captured, RECEIVED)
    assert refused.value.reason == reason


def test_the_limit_is_the_plants_setting(monkeypatch):
    monkeypatch.setenv("FACE_CAPTURE_MINUTES", "10")
    settings.configure()
    judge(RECEIVED - timedelta(minutes=10), RECEIVED)
    with pytest.raises(FaceRefused):
        judge(RECEIVED - timedelta(minutes=10, seconds=1), RECEIVED)


def test_a_selfie_link_names_its_person_permit_step_and_round_and_cannot_be_altered():
    person, permit, step = Person(id=7), Permit(no="DH-20261207-001"), Step(key="plan", round=2)
    raw = token(person, permit, step)
    assert opened(raw) == {"p": 7, "n": "DH-20261207-001", "s": "plan", "r": 2}
    assert opened(raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB")) is None
    assert opened("nonsense") is None
