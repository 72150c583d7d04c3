"""Decode a photo, find exactly one face in it, encode it, and measure it against another."""
from __future__ import annotations

import io

# PIL, numpy and face_recognition are imported where used: loading dlib's models takes a second and
# memory that only the worker checking photos needs, not every web process that imports this module.

MAX_PIXELS = 40_000_000   # a photo claiming more is refused from its header, before it is decoded
MAX_SIDE = 1600           # larger photos are shrunk first: detection needs no more, and is 4× faster


class FaceRefused(Exception):
    """The photo cannot be used; reason says why in words the sender can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode(data: bytes, *, max_bytes: int):
    """Return the photo as RGB pixels, shrunk to MAX_SIDE; refuse it, with the reason, if unusable."""
    from PIL import Image, ImageFile, UnidentifiedImageError
    # face_recognition turns PIL's LOAD_TRUNCATED_IMAGES on when imported: a cut-off upload would then
    # decode with a grey remainder and be checked as if whole. It is refused instead.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if len(data) > max_bytes:
        raise FaceRefused(f"照片过大（{len(data) / 1048576:.1f} MB），请发送不超过 {max_bytes // 1048576} MB 的照片")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise FaceRefused(f"照片尺寸过大（{image.width}×{image.height}），请发送普通自拍照")
            image = image.convert("RGB")   # decodes now: a corrupt file fails here, not later
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise FaceRefused("无法识别的图片：请发送一张照片（JPEG 或 PNG）") from None
    except (OSError, SyntaxError, ValueError):
        raise FaceRefused("照片文件已损坏，无法读取，请重新拍摄后发送") from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    import numpy
    return numpy.asarray(image)


def encode(data: bytes, *, max_bytes: int) -> list[float]:
    """Return the encoding of the one face in the photo; refuse none, several, or an unreadable photo."""
    import face_recognition
    pixels = decode(data, max_bytes=max_bytes)
    found = face_recognition.face_locations(pixels)
    if not found:
        raise FaceRefused("照片中没有检测到人脸，请正对镜头、光线充足时重拍")
    if len(found) > 1:
        raise FaceRefused(f"照片中有 {len(found)} 张人脸，请只拍本人")
    (encoding,) = face_recognition.face_encodings(pixels, known_face_locations=found)
    return [float(x) for x in encoding]


def distance(enrolled: list[float], seen: list[float]) -> float:
    """Return face_recognition's distance between two encodings (0 the same; 0.6 its usual limit)."""
    import face_recognition
    import numpy
    return float(face_recognition.face_distance([numpy.array(enrolled)], numpy.array(seen))[0])
