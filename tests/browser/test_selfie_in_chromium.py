"""The selfie page in a real browser opened as the chat app's: its script calls the app's camera alone."""
from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest

from faces.enrol import enrol
from models import FaceCheck, find_person
from models.permit import Step
from tests.browser.test_board_in_chromium import PHONE, applied
from tests.faces.test_live_selfie import plan_needs_a_face, said, selfie_link  # noqa: F401  (a fixture)

FACES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces"


@pytest.fixture
def faces():
    """Skip unless the shared face photos and face_recognition are here, as the face tests do."""
    if not (FACES / "obama.jpg").is_file():
        pytest.skip(f"the shared face photos are not at {FACES} (../shared/testdata/faces beside the project)")
    pytest.importorskip("face_recognition", reason="face_recognition is not installed (make installs it)")


@pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
def test_the_pages_script_takes_the_selfie_with_the_apps_camera(faces, plan_needs_a_face, world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, sandbox = world
    enrol(find_person("zhengji"), (FACES / "obama.jpg").read_bytes(), source="cli")
    permit = applied(phone, drain)
    link = selfie_link(phone, drain, "zhengji")
    phone._post("/sandbox/camera", json={"user": "zhengji", "photo": base64.b64encode(
        (FACES / "obama2.jpg").read_bytes()).decode()})
    page = context_for(**PHONE, user_agent=phone.browser).new_page()
    page.goto(f"{sandbox}/phone/zhengji/scan?url={quote(link, safe='')}")
    expect(page.locator("#shoot")).to_be_enabled()    # the config was signed for this page and ready
    page.locator("#shoot").click()
    expect(page.locator("#status")).to_have_text("已收到自拍照，正在核验人脸，结果将在对话中通知您")
    shoot(page, f"selfie-{phone.platform}")
    drain()
    assert said(phone, "zhengji")[-1].startswith("人脸核验通过")
    assert (FaceCheck.get().source, FaceCheck.get().state) == ("camera", "passed")
    phone.click("zhengji", phone.open_card("zhengji", f"{permit.no}-plan-"))
    drain()
    assert Step.get(Step.key == "plan").state == "done"
