"""Selfies taken live through the chat app's camera: the link to the camera page, and the capture time.

A photo sent in chat may come from the album and says nothing of when it was taken. The selfie page
asks the platform's JS-SDK for its camera alone (WeCom wx.chooseImage with sourceType ['camera'],
DingTalk biz.util.uploadImageFromCamera), and the check refuses a photo whose camera took it longer ago
than FACE_CAPTURE_MINUTES. What this stops and what it does not: docs/rules.md "Face checks".
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from itsdangerous import BadSignature, URLSafeTimedSerializer

import settings
from cards import links
from models import Person, Step
from models.permit import Permit

from .match import FaceRefused

LINK_SECONDS = 24 * 3600     # the link only opens the camera: the capture time, not the link, bounds a photo
AHEAD = timedelta(minutes=1)  # a phone's clock may run this far ahead of the server's
EXIF_IFD, DATE_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x8769, 0x9003, 0x9011
ENTERPRISE = "e"             # the query parameter naming a park enterprise's link


def _serializer() -> URLSafeTimedSerializer:
    # Signed for the enterprise it was issued in: opened as another enterprise's link, it is forged.
    code = links.enterprise()
    return URLSafeTimedSerializer(settings.signing_key(), salt=f"selfie-{code}" if code else "selfie")


def token(person: Person, permit: Permit, step: Step) -> str:
    """Return the signed token naming whose selfie the page takes, for which permit's step and round."""
    return _serializer().dumps({"p": person.id, "n": permit.no, "s": step.key, "r": step.round})


def path(signed: str) -> str:
    """Return the selfie page's path for a token, naming the park enterprise it was issued in."""
    code = links.enterprise()
    return f"/selfie/{signed}" + (f"?{ENTERPRISE}={code}" if code else "")


def url(person: Person, permit: Permit, step: Step) -> str:
    """Return the selfie page's address for person at permit's step."""
    return settings.current().public_base_url + path(token(person, permit, step))


def opened(raw: str) -> dict | None:
    """Return the token's {"p", "n", "s", "r"}, or None when it is forged or older than LINK_SECONDS."""
    try:
        found = _serializer().loads(raw, max_age=LINK_SECONDS)
    except BadSignature:
        return None
    return found if isinstance(found, dict) and {"p", "n", "s", "r"} <= found.keys() else None


def capture_time(data: bytes) -> datetime | None:
    """Return when the camera took the photo (UTC, naive), from its EXIF DateTimeOriginal, or None.

    Without OffsetTimeOriginal the time is the plant's local time, as a phone's camera writes it.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif().get_ifd(EXIF_IFD)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    stamp, offset = exif.get(DATE_TIME_ORIGINAL), exif.get(OFFSET_TIME_ORIGINAL)
    try:
        local = datetime.strptime(str(stamp).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        if offset:
            zone = datetime.strptime(str(offset).strip("\x00 "), "%z").tzinfo
        else:
            zone = settings.current().plant_tz
    except ValueError:
        return None
    return local.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def judge(captured: datetime | None, received: datetime) -> None:
    """Refuse a camera photo with no capture time, taken too long before it reached us, or in the future."""
    limit = settings.current().face_capture_minutes
    if captured is None:
        raise FaceRefused("照片没有拍摄时间，无法确认是现场拍摄，请在自拍页面用相机重新拍摄")
    if captured > received + AHEAD:
        raise FaceRefused("照片的拍摄时间晚于服务器时间，请校准手机时间后重新自拍")
    age = received - captured
    if age > timedelta(minutes=limit):
        raise FaceRefused(f"照片拍摄于 {int(age.total_seconds() // 60)} 分钟前，超过 {limit} 分钟，请现场重新自拍")
