"""The shared test photos (../shared/testdata/faces beside the project), or a skip saying where they are missing."""
from __future__ import annotations

from pathlib import Path

import pytest

FACES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces"


@pytest.fixture
def photo():
    """Return a function reading one of the shared face photos as bytes; skip when they are absent."""
    if not FACES.is_dir():
        pytest.skip(f"the shared face photos are not at {FACES} (../shared/testdata/faces beside the project)")
    pytest.importorskip("face_recognition", reason="face_recognition is not installed (make installs it)")
    return lambda name: (FACES / name).read_bytes()


@pytest.fixture
def blank_png() -> bytes:
    """Return a photo of nothing: a plain grey PNG."""
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (128, 128, 128)).save(out, format="PNG")
    return out.getvalue()
