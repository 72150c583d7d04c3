"""A refused assignment in chat, through the WeCom sandbox: the reason, then another person, same draft."""
from __future__ import annotations

from datetime import date

from models import Certificate
from models.permit import Permit
from tests.test_wecom_real_path import apply_text, world  # noqa: F401  (world is a fixture)


def texts(phone, user: str) -> list[str]:
    return [m["content"]["content"] for m in phone.messages(user) if m["msgtype"] == "text"]


def test_an_expired_certificate_refuses_the_worker_and_the_applicant_picks_another(world):
    phone, drain, _ = world
    Certificate.update(valid_until=date(2026, 10, 1)).where(Certificate.number == "HJ-jianghan").execute()
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    assert permit.state == "draft"
    refused, question = texts(phone, "zhuyan")[-2:]
    assert refused == (f"草稿 {permit.no} 未能提交：蒋焊（作业人）的焊接与热切割证（HJ-jianghan）已于 2026-10-01 过期。"
                       "请更换人员后重新提交")
    assert question.startswith("请填写作业人")
    phone.text("zhuyan", "weidong,shenli")
    drain()
    assert Permit.select().count() == 1   # the same draft, not a second one
    permit = Permit.get()
    assert permit.state == "in_approval"
    assert [m.person.wecom_userid for m in permit.members if m.role == "作业人"] == ["weidong", "shenli"]
    assert "已提交" in texts(phone, "zhuyan")[-1]
