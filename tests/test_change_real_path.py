"""Changes in chat (作业变更) end to end on both platforms: 变更 → cards to the change's approvers →
clicks → the change applied, or refused with the permit left valid as it was."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import settings
from handlers.demo.scripted import take_through
from models import AuditEvent, ChangeRequest, find_person
from models.permit import Permit, PermitMember
from workflow import audit

from tests.test_wecom_real_path import a_detector, apply_text, last_text, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def running(phone, drain, grade: str = "二级") -> Permit:
    phone.text("zhuyan", apply_text(extra=f"级别: {grade}\n介质: 甲烷"))
    drain()
    # 特级 hot work is monitored continuously: a detector is bound at the start.
    device = a_detector(phone) if grade == "特级" else None
    return take_through(phone, Permit.get().no, drain, until="in_progress", detector=device)


def change_cards(phone, user: str, change: ChangeRequest) -> list[dict]:
    return [m for m in phone.messages(user) if (m.get("task_id") or "").startswith(f"change-{change.id}-")]


def approve_all(phone, drain, no: str) -> list[str]:
    """Click 同意变更 as the first person asked at each stage; return who approved."""
    clicked = []
    for _ in range(5):
        change = ChangeRequest.get(ChangeRequest.permit == Permit.get(Permit.no == no))
        if change.state != "pending":
            return clicked
        user = next(u for u in ("wuhai", "shiwen", "qiananping", "zhengji", "fengjiao", "yangshou")
                    if phone.open_card(phone_user(phone, u), f"change-{change.id}-s{change.stage}-"))
        card = phone.open_card(phone_user(phone, user), f"change-{change.id}-s{change.stage}-")
        assert phone.buttons(card) == ["同意变更", "不同意"]
        phone.click(phone_user(phone, user), card)
        drain()
        clicked.append(user)
    raise AssertionError("the change never settled")


def phone_user(phone, account: str) -> str:
    return phone.account(find_person(account))


def members(no: str, role: str) -> set[str]:
    return {m.person.account for m in PermitMember.select().where(
        (PermitMember.permit == Permit.get(Permit.no == no)) & (PermitMember.role == role))}


@BOTH
def test_a_crew_change_in_chat_goes_to_the_approvers_and_applies_once_approved(world):
    phone, drain, _ = world
    no = running(phone, drain).no
    version = Permit.get(Permit.no == no).version
    phone.text("zhuyan", f"变更 {no}\n作业人: jianghan,weidong\n理由: 沈力调岗")
    drain()
    assert "审批通过前按原作业票执行" in last_text(phone, "zhuyan")
    permit = Permit.get(Permit.no == no)
    # Pending: the permit runs on as issued, its crew unchanged.
    assert (permit.state, permit.version, members(no, "作业人")) == ("in_progress", version, {"jianghan", "shenli"})
    change = ChangeRequest.get(ChangeRequest.permit == permit)
    first = change_cards(phone, phone_user(phone, "wuhai"), change) or [
        m for u in ("shiwen", "qiananping") for m in change_cards(phone, phone_user(phone, u), change)]
    assert first, "the first approval level got the change's card"

    approved = approve_all(phone, drain, no)
    assert len(approved) == len(ChangeRequest.get_by_id(change.id).route)
    permit = Permit.get(Permit.no == no)
    assert (permit.state, members(no, "作业人")) == ("in_progress", {"jianghan", "weidong"})
    assert ChangeRequest.get_by_id(change.id).state == "approved"
    # The removed worker is told to stop; the cards clicked became outcomes.
    assert any("请立即停止作业并离开现场" in str(m["content"]) for m in phone.messages(phone_user(phone, "shenli")))
    assert all(not phone.open_card(phone_user(phone, u), f"change-{change.id}-") for u in approved)
    assert {e.action for e in AuditEvent.select().where(AuditEvent.permit_no == no)} >= {"request_change",
                                                                                        "decide_change"}
    assert audit.verify().ok


@BOTH
def test_a_refused_extension_in_chat_leaves_the_permit_valid_until_its_original_end(world):
    phone, drain, _ = world
    # 特级 is the top grade: the longer window cannot raise it, whatever the hour the test runs at.
    no = running(phone, drain, grade="特级").no
    old_end = Permit.get(Permit.no == no).planned_end
    new_end = (datetime.now(settings.current().plant_tz) + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M")
    phone.text("zhuyan", f"延期 {no} {new_end} 焊口返修")
    drain()
    change = ChangeRequest.get(ChangeRequest.permit == Permit.get(Permit.no == no))
    user = next(phone_user(phone, u) for u in ("wuhai", "shiwen", "qiananping")
                if phone.open_card(phone_user(phone, u), f"change-{change.id}-s0-"))
    card = phone.open_card(user, f"change-{change.id}-s0-")
    phone.click(user, card, button=1)            # 不同意: the reason is asked for in chat
    drain()
    assert f"请回复：不同意变更 {no} <理由>" in str(phone.messages(user)[-1]["content"])
    phone.text(user, f"不同意变更 {no} 焊口另行安排")
    drain()
    permit = Permit.get(Permit.no == no)
    assert (permit.state, permit.planned_end) == ("in_progress", old_end)
    assert ChangeRequest.get_by_id(change.id).state == "rejected"
    assert any("变更未获同意（" in str(m["content"]) and "作业票按原内容继续有效" in str(m["content"])
               for m in phone.messages(phone_user(phone, "zhuyan")))
    assert not phone.open_card(user, f"change-{change.id}-")
    # A second refusal of the settled change is refused by name, and changes nothing.
    phone.text(user, f"不同意变更 {no} 再次")
    drain()
    assert f"未办理：作业票 {no} 没有待审批的变更" in str(phone.messages(user)[-1]["content"])


@BOTH
def test_a_change_of_location_in_chat_is_refused_by_name(world):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    no = Permit.get().no
    phone.text("zhuyan", f"变更 {no}\n地点: 2#罐区\n理由: 换地方")
    drain()
    assert "未办理：不能变更“地点”" in str(phone.messages(phone_user(phone, "zhuyan"))[-1]["content"])
    phone.text("zhuyan", f"变更 {no}")
    drain()
    assert "格式：变更 编号" in str(phone.messages(phone_user(phone, "zhuyan"))[-1]["content"])
    assert not ChangeRequest.select().exists()
