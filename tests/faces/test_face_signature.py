"""A face-checked signature end to end through the WeCom sandbox: selfie → media download → job → signature."""
from __future__ import annotations

import json

import pytest

from faces.enrol import enrol
from faces.gate import problems
from models import AuditEvent, FaceCheck, find_person, utcnow
from models.permit import Permit, Step
from tests.test_wecom_real_path import apply_text, world  # noqa: F401  (world is a fixture)


@pytest.fixture
def plan_needs_a_face(monkeypatch):
    """Let the plant require a face check at hot work's first step (作业计划, signed by 郑计), by chat selfie.

    These tests are of the chat selfie a plant may allow (FACE_CHAT_SELFIES); the camera page's
    selfies, the default, are tested in test_live_selfie.py.
    """
    monkeypatch.setenv("FACE_CHECK_STEPS", "hot_work.plan")
    monkeypatch.setenv("FACE_CHAT_SELFIES", "1")


def texts(phone, user: str) -> list[str]:
    return [m["content"]["content"] for m in phone.messages(user) if m["msgtype"] == "text"]


def notices(phone, user: str) -> list[str]:
    return [m["card"].get("sub_title_text", "") for m in phone.messages(user)
            if m["msgtype"] == "template_card" and m["card"]["card_type"] == "text_notice"]


def test_a_matching_selfie_unlocks_the_signature_and_a_stranger_does_not(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    enrol(find_person("zhengji"), photo("obama.jpg"), source="cli")
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    card = phone.open_card("zhengji", f"{permit.no}-plan-")
    assert "须人脸核验：签字前请在对话中发送一张本人自拍照" in json.dumps(card["card"], ensure_ascii=False)
    phone.click("zhengji", card)
    drain()
    assert Step.get(Step.key == "plan").state == "active"
    assert notices(phone, "zhengji")[-1] == "未办理：“作业计划”须人脸核验：请先在对话中发送一张本人自拍照，核验通过后再签字"

    phone.photo("zhengji", photo("biden.jpg"), "selfie.jpg")
    drain()
    assert texts(phone, "zhengji")[-2:][0] == "已收到自拍照，正在核验人脸，请稍候……"
    assert texts(phone, "zhengji")[-1].startswith("人脸核验未通过：与登记照片不符（相似距离 0.")
    # Still locked. (Not clicked again here: two clicks on one card within a second are one retried event.)
    assert problems(permit, step="plan", person=find_person("zhengji"), at=utcnow()) == [
        "“作业计划”须人脸核验：请先在对话中发送一张本人自拍照，核验通过后再签字"]

    phone.photo("zhengji", photo("obama2.jpg"), "selfie.jpg")
    drain()
    assert texts(phone, "zhengji")[-1].startswith("人脸核验通过（相似距离 0.3")
    phone.click("zhengji", phone.open_card("zhengji", f"{permit.no}-plan-"))
    drain()
    assert Step.get(Step.key == "plan").state == "done"
    checks = [(c.state, round(c.distance, 1)) for c in FaceCheck.select().order_by(FaceCheck.id)]
    assert checks == [("refused", 0.8), ("passed", 0.3)]
    audited = [e.data for e in AuditEvent.select().where(AuditEvent.action == "face_check").order_by(AuditEvent.seq)]
    assert [(a["passed"], a["step"], a["distance"] > 0) for a in audited] == [(False, "plan", True), (True, "plan", True)]


@pytest.mark.parametrize("name, data, answer", [
    ("two_people.jpg", None, "人脸核验未通过：照片中有 2 张人脸，请只拍本人"),
    ("cut.jpg", "obama2.jpg", "人脸核验未通过：照片文件已损坏，无法读取，请重新拍摄后发送"),
])
def test_an_unusable_selfie_is_refused_in_chat_with_the_reason(plan_needs_a_face, photo, world, name, data, answer):
    phone, drain, _ = world
    enrol(find_person("zhengji"), photo("obama.jpg"), source="cli")
    phone.text("zhuyan", apply_text())
    drain()
    sent = photo(name) if data is None else photo(data)[:30000]   # the sandbox itself refuses a non-image
    phone.photo("zhengji", sent, name)
    drain()
    assert texts(phone, "zhengji")[-1] == answer
    assert FaceCheck.get().state == "refused"


def test_an_admin_asks_for_a_selfie_and_the_next_photo_enrols_the_face(photo, world):
    phone, drain, _ = world
    phone.text("lvming", "采集人脸 chuwei")
    drain()
    assert texts(phone, "lvming")[-1] == "已请 褚卫 发送自拍照，采集结果会通知本人"
    assert "请您在此对话中发送一张本人正面自拍照" in texts(phone, "chuwei")[-1]
    phone.photo("chuwei", photo("two_people.jpg"), "us.jpg")
    drain()
    assert texts(phone, "chuwei")[-1] == "人脸采集未通过：照片中有 2 张人脸，请只拍本人。请重新发送自拍照"
    phone.photo("chuwei", photo("obama.jpg"), "me.jpg")
    drain()
    assert texts(phone, "chuwei")[-1] == "人脸已采集，今后需人脸核验的签字将与此照片比对"
    assert find_person("chuwei").faces.count() == 1


@pytest.mark.parametrize("world", ["dingtalk"], indirect=True)
def test_on_dingtalk_a_selfie_fetched_by_download_code_unlocks_the_signature(plan_needs_a_face, photo, world):
    phone, drain, _ = world
    enrol(find_person("zhengji"), photo("obama.jpg"), source="cli")
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    said = lambda: [str(m.get("content")) for m in phone.messages("zhengji") if m["msgtype"] != "interactive_card"]  # noqa: E731
    phone.photo("zhengji", photo("biden.jpg"), "selfie.jpg")
    drain()
    assert "人脸核验未通过：与登记照片不符" in said()[-1]
    phone.photo("zhengji", photo("obama2.jpg"), "selfie.jpg")
    drain()
    assert "人脸核验通过" in said()[-1]
    phone.click("zhengji", phone.open_card("zhengji", f"{permit.no}-plan-"))
    drain()
    assert Step.get(Step.key == "plan").state == "done"
    assert [c.state for c in FaceCheck.select().order_by(FaceCheck.id)] == ["refused", "passed"]
    assert {a.data["passed"] for a in AuditEvent.select().where(AuditEvent.action == "face_check")} == {False, True}
