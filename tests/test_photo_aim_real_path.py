"""Photos aimed at a permit end to end on both platforms: 照片 编号 [种类], then the photo, files it with that
permit and its current step, not with the newest permit that lacks one."""
from __future__ import annotations

import pytest

from handlers.demo.scripted import tiny_png
from models import Attachment, Conversation
from models.permit import Permit
from workflow import machine

from tests.test_wecom_real_path import apply_text, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1]["content"])


@BOTH
def test_a_photo_aimed_at_a_permit_is_filed_with_it_and_its_step(world):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    phone.text("zhuyan", apply_text().replace("3#罐区东侧管廊", "常减压装置 V-101"))
    drain()
    first, second = Permit.select().order_by(Permit.id)

    phone.text("zhuyan", "照片 DH-29991231-0001")
    drain()
    assert "未办理：没有编号为 DH-29991231-0001 的作业票" in said(phone, "zhuyan")

    phone.text("zhuyan", f"照片 {first.no} 现场")
    drain()
    assert f"请发送 {first.no} 的“现场”照片" in said(phone, "zhuyan")
    phone.photo("zhuyan", tiny_png(), "site.png")
    drain()
    photo = Attachment.get()
    assert (photo.permit_id, photo.kind, photo.step.key) == (first.id, "现场", machine.active_step(first).key)
    assert f"照片已作为 {first.no} 的“现场”照片保存" in said(phone, "zhuyan")
    assert not Conversation.select().exists()      # the aim is used up by one photo

    # Not aimed, the next photo goes where one is missing, as before (the newest permit first).
    phone.photo("zhuyan", tiny_png(120), "next.png")
    drain()
    assert Attachment.select().order_by(Attachment.id.desc()).first().permit_id == second.id


@BOTH
def test_completion_and_acceptance_each_wait_for_a_photo_of_the_finished_site(world):
    from handlers.demo.scripted import take_through
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = take_through(phone, Permit.get().no, drain, until="in_progress")
    no = permit.no
    # The photo is aimed; until it arrives the guardian's 完工确认 is refused, naming it.
    phone.text("zhuyan", f"照片 {no} 完工现场")
    drain()
    card = phone.open_card("chuwei", f"{no}-complete-")
    assert "须有现场照片：完工现场" in str(card)
    phone.click("chuwei", card)
    drain()
    assert f"缺少开工后拍摄的现场照片：完工现场。请发送“照片 {no} 完工现场”，再发送照片" in said(phone, "chuwei")
    assert Permit.get_by_id(permit.id).state == "in_progress"
    phone.photo("zhuyan", tiny_png(90), "done.png")
    drain()
    photo = Attachment.select().order_by(Attachment.id.desc()).first()
    assert (photo.kind, photo.step.key) == ("完工现场", "complete")
    phone.click("chuwei", phone.open_card("chuwei", f"{no}-complete-"))
    drain()
    assert Permit.get_by_id(permit.id).state == "completed"

    acceptor = machine.assignees(machine.active_step(Permit.get_by_id(permit.id)))[0]
    user = phone.account(acceptor)
    phone.click(user, phone.open_card(user, f"{no}-accept-"))
    drain()
    assert "缺少开工后拍摄的现场照片：验收现场" in said(phone, user)
    assert Permit.get_by_id(permit.id).state == "completed"
    phone.photo("zhuyan", tiny_png(60), "accepted.png")     # not aimed: the active step's photo is wanted
    drain()
    assert f"照片已作为 {no} 的“验收现场”照片保存" in said(phone, "zhuyan")
    phone.click(user, phone.open_card(user, f"{no}-accept-"))
    drain()
    assert Permit.get_by_id(permit.id).state == "accepted"
