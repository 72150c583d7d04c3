"""Live selfies through the real path on both platforms: the camera page, the JS-SDK's camera, the job, the card.

The sandbox's camera stamps the photo with the time its clock shows, as a phone's camera writes EXIF;
the app reads that stamp, so a capture ten minutes old is refused though it came through the camera.
"""
from __future__ import annotations

import re
import time

import pytest
import requests

from faces.enrol import enrol
from models import AuditEvent, FaceCheck, find_person
from models.permit import Permit, Step
from tests.test_wecom_real_path import apply_text, world  # noqa: F401  (world is a fixture)

LINK = re.compile(r"(https?://\S+/selfie/[\w.\-]+)")
BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@pytest.fixture
def plan_needs_a_face(monkeypatch):
    """Let the plant require a face check at hot work's first step (作业计划, signed by 郑计)."""
    monkeypatch.setenv("FACE_CHECK_STEPS", "hot_work.plan")
    monkeypatch.delenv("FACE_CHAT_SELFIES", raising=False)


def said(phone, user: str) -> list[str]:
    """Return the plain texts user received, on either platform."""
    out = []
    for m in phone.messages(user):
        if m["msgtype"] == "text":
            content = m["content"]
            out.append(content.get("content", "") if isinstance(content, dict) else str(content))
    return out


def selfie_link(phone, drain, user: str) -> str:
    phone.text(user, "自拍")
    drain()
    found = LINK.search(said(phone, user)[-1])
    assert found, said(phone, user)[-1]
    return found.group(1)


def applied(phone, drain, photo) -> Permit:
    enrol(find_person("zhengji"), photo("obama.jpg"), source="cli")
    phone.text("zhuyan", apply_text())
    drain()
    return Permit.get()


@BOTH
def test_a_fresh_camera_selfie_unlocks_the_signature(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    permit = applied(phone, drain, photo)
    link = selfie_link(phone, drain, "zhengji")
    assert "请用手机打开以下链接，用相机现场自拍（相册照片不能使用，拍摄后 3 分钟内有效）" in said(phone, "zhengji")[-1]
    answer = phone.selfie("zhengji", link, photo("obama2.jpg"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["text"] == "已收到自拍照，正在核验人脸，结果将在对话中通知您"
    drain()
    assert said(phone, "zhengji")[-1].startswith("人脸核验通过（相似距离 0.3")
    phone.click("zhengji", phone.open_card("zhengji", f"{permit.no}-plan-"))
    drain()
    assert Step.get(Step.key == "plan").state == "done"
    check = FaceCheck.get()
    assert (check.state, check.source) == ("passed", "camera")
    assert abs((check.created_at - check.captured_at).total_seconds()) < 60   # the camera's stamp, read back
    audited = AuditEvent.get(AuditEvent.action == "face_check").data
    assert (audited["source"], audited["passed"]) == ("camera", True) and audited["captured_at"]


@BOTH
def test_a_capture_ten_minutes_old_is_refused_and_the_step_stays_locked(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    permit = applied(phone, drain, photo)
    link = selfie_link(phone, drain, "zhengji")
    # The right face, through the camera, but its camera took it ten minutes before it reached the app.
    answer = phone.selfie("zhengji", link, photo("obama2.jpg"), at=time.time() - 600)
    assert answer.status_code == 202, answer.text
    drain()
    assert said(phone, "zhengji")[-1] == "人脸核验未通过：照片拍摄于 10 分钟前，超过 3 分钟，请现场重新自拍"
    assert FaceCheck.get().state == "refused"
    phone.click("zhengji", phone.open_card("zhengji", f"{permit.no}-plan-"))
    drain()
    assert Step.get(Step.key == "plan").state == "active"


def test_a_chat_photo_for_a_signature_is_refused_with_the_camera_link(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    applied(phone, drain, photo)
    phone.text("zhuyan", "自拍")
    drain()
    assert said(phone, "zhuyan")[-1] == "未办理：您当前没有需要人脸核验的签字"
    phone.photo("zhengji", photo("obama2.jpg"), "selfie.jpg")
    drain()
    last = said(phone, "zhengji")[-1]
    assert last.startswith("人脸核验未通过：对话中发送的照片可能来自相册，不能用于签字核验。请用手机打开以下链接，用相机现场自拍：")
    assert LINK.search(last)
    assert FaceCheck.select().count() == 0


@pytest.mark.parametrize("world", ["dingtalk"], indirect=True)
def test_the_page_refuses_an_album_picture_a_forged_link_and_a_link_off_dingtalks_hosts(plan_needs_a_face, photo,
                                                                                      world):
    phone, drain, _ = world
    applied(phone, drain, photo)
    link = selfie_link(phone, drain, "zhengji")
    post = lambda body, url=link: requests.post(url, json=body, timeout=10)  # noqa: E731
    album = post({"platform": "dingtalk", "media": "x", "source": "album"})
    assert (album.status_code, album.json()) == (400, {"error": "相册中的照片不能用于人脸核验，请用相机现场自拍"})
    assert post({"platform": "dingtalk", "media": "x", "source": "camera"}, link[:-3] + "abc").status_code == 404
    assert post({"platform": "qq", "media": "x", "source": "camera"}).status_code == 400
    for captured in (10 ** 20, -5, "now", True):
        late = post({"platform": "dingtalk", "media": "x", "source": "camera", "captured_ms": captured})
        assert (late.status_code, late.json()) == (400, {"error": "拍摄时间格式错误"})
    assert post(["not", "an", "object"]).json() == {"error": "请求格式错误：须为 JSON"}
    assert FaceCheck.select().count() == 0
    # A link the page hands over that is not on DingTalk's hosts is never fetched.
    assert post({"platform": "dingtalk", "media": "http://10.0.0.1/x.jpg", "source": "camera"}).status_code == 202
    drain()
    assert said(phone, "zhengji")[-1] == "人脸核验未通过：照片不是钉钉相机上传的图片，请在自拍页面重新拍摄"


def test_the_page_opened_outside_the_chat_apps_offers_no_camera(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    applied(phone, drain, photo)
    page = requests.get(selfie_link(phone, drain, "zhengji"), timeout=10)
    assert page.status_code == 409
    assert "请在企业微信或钉钉中打开此链接：人脸核验只接受其相机现场拍摄的照片" in page.text
    assert 'id="jsapi"' not in page.text
