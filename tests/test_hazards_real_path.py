"""隐患 end to end, on WeCom and on DingTalk: reported in chat with a photo, assigned, rectified with photos,
refused a re-check by the rectifier, sent back once, closed by the inspector; an overdue one is reminded and
escalated by the scheduler's scan."""
from __future__ import annotations

from datetime import timedelta

import pytest

import settings
from handlers.demo.scripted import tiny_png
from jobs.scans import run_all
from models import AuditEvent, Finding, FindingPhoto, utcnow
from tests.worlds import world as a_world
from workflow.clock import local

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(getattr(request, "param", "wecom"), plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1])


def everything(phone, user: str) -> str:
    return "\n".join(map(str, phone.messages(user)))


def _in_two_days() -> str:
    return local(utcnow() + timedelta(days=2), settings.current().plant_tz).strftime("%Y-%m-%d %H:%M")


def _found(world) -> Finding:
    phone, drain = world.phone, world.drain
    phone.text("chuwei", "隐患 3#罐区 东侧消防通道被杂物堵塞\n类别: 消防")
    drain()
    f = Finding.get()
    assert f"已登记隐患 {f.no}" in said(phone, "chuwei")
    assert f"请指派整改：指派 {f.no}" in said(phone, "sunli")      # the area's safety officer
    phone.photo("chuwei", tiny_png(90))
    drain()
    assert f"照片已作为 {f.no} 的发现照片保存" in said(phone, "chuwei")
    phone.text("sunli", f"指派 {f.no} jianghan {_in_two_days()}")
    drain()
    assert f"{f.no} 已指派 蒋焊 整改" in said(phone, "sunli")
    assert f"请整改隐患 {f.no}" in said(phone, "jianghan")
    phone.text("jianghan", f"开始整改 {f.no}")
    drain()
    return Finding.get_by_id(f.id)


@BOTH
def test_a_finding_from_chat_is_rectified_rechecked_and_closed(world):
    phone, drain = world.phone, world.drain
    f = _found(world)
    assert f.state == "rectifying" and f.category == "消防"

    phone.text("jianghan", f"整改完成 {f.no} 已清理")           # no photo yet
    drain()
    assert "请先发送整改后的现场照片" in said(phone, "jianghan")
    phone.photo("jianghan", tiny_png(120))
    drain()
    assert f"照片已作为 {f.no} 的整改照片保存" in said(phone, "jianghan")
    phone.text("jianghan", f"整改完成 {f.no} 已清理")
    drain()
    assert "请到现场复查" in said(phone, "chuwei")

    phone.text("jianghan", f"复查 {f.no} 通过")                # the rectifier may not re-check
    drain()
    assert "不能复查自己的整改" in said(phone, "jianghan")
    assert Finding.get_by_id(f.id).state == "rectified"

    phone.text("chuwei", f"复查 {f.no} 不通过 通道内仍有纸箱")
    drain()
    assert "复查不通过" in said(phone, "jianghan") and "通道内仍有纸箱" in said(phone, "jianghan")
    phone.photo("jianghan", tiny_png(150))
    drain()
    phone.text("jianghan", f"整改完成 {f.no} 纸箱已清走")
    drain()
    phone.text("chuwei", f"复查 {f.no} 通过")
    drain()
    assert f"{f.no} 复查通过，已关闭" in said(phone, "chuwei")
    assert "复查通过，已关闭" in said(phone, "jianghan")
    f = Finding.get_by_id(f.id)
    assert (f.state, f.rejections, f.checked_by.name) == ("closed", 1, "褚卫")
    assert [p.stage for p in f.photos.order_by(FindingPhoto.id)] == ["发现", "整改", "整改"]

    phone.photo("chuwei", tiny_png(30))                       # nothing of it is open any more
    drain()
    assert f"{f.no} 已关闭，不能再添加照片" in said(phone, "chuwei")
    assert FindingPhoto.select().count() == 3
    refused = [e.data["command"] for e in AuditEvent.select().where(AuditEvent.action == "refused")]
    assert refused == ["hazard_rectified", "hazard_recheck"]


@BOTH
def test_an_overdue_finding_is_reminded_and_escalated_by_the_scan(world):
    phone, drain = world.phone, world.drain
    f = _found(world)
    run_all((f.deadline + timedelta(minutes=1)).isoformat())
    drain()
    assert f"{f.no}" in said(phone, "jianghan") and "已超过整改期限" in said(phone, "jianghan")
    run_all((f.deadline + timedelta(hours=25)).isoformat())
    drain()
    for head in ("wuhai", "shiwen"):   # the heads of 常减压车间, 蒋焊's unit
        assert "超期上报" in said(phone, head) and f.no in said(phone, head)
    assert "超期上报" not in everything(phone, "lizheng")


@BOTH
def test_bad_finding_commands_are_refused_in_plain_words(world):
    phone, drain = world.phone, world.drain
    for text, answer in [("隐患", "请写明地点和隐患描述"), ("隐患 3#罐区", "请写明隐患描述"),
                         ("隐患 4#罐区 通道堵塞", "不在本厂区域表中"),
                         ("隐患 3#罐区 通道堵塞\n等级: 特大", "等级只能是 一般 / 重大")]:
        phone.text("chuwei", text)
        drain()
        assert answer in said(phone, "chuwei"), text
    assert Finding.select().count() == 0
    phone.text("chuwei", "隐患 3#罐区 通道堵塞")
    drain()
    f = Finding.get()
    phone.text("sunli", f"指派 {f.no} jianghan 2020-01-01 08:00")
    drain()
    assert "整改期限 2020-01-01 08:00 已过" in said(phone, "sunli")
    assert Finding.get_by_id(f.id).state == "found"


@BOTH
def test_a_failed_acceptances_rectification_deadline_is_chased(world):
    from models.permit import Permit
    from tests.workflow.test_transitions import permit_in
    phone, drain = world.phone, world.drain
    no, _clock = permit_in("completed")
    drain()
    deadline = local(utcnow() + timedelta(hours=2), settings.current().plant_tz)
    phone.text("yangshou", f"验收不通过 {no} {deadline:%Y-%m-%d %H:%M} 现场未清理")
    drain()
    permit = Permit.get(Permit.no == no)
    assert permit.state == "rectifying" and permit.rectify_chase_at == permit.rectify_deadline
    run_all((permit.rectify_deadline + timedelta(minutes=1)).isoformat())
    drain()
    assert f"催办：{no}" in said(phone, "jianghan") and "整改期限" in said(phone, "jianghan")
    run_all((permit.rectify_deadline + timedelta(hours=25)).isoformat())
    drain()
    assert f"超期上报：{no}" in said(phone, "wuhai")
    phone.text("jianghan", f"整改完成 {no}")
    drain()
    assert Permit.get(Permit.no == no).rectify_chase_at is None


@BOTH
def test_a_random_audit_is_drawn_done_on_site_and_a_failed_item_opens_a_finding(world, monkeypatch):
    from models import AuditDraw, CheckIn, PermitAudit, find_person
    from tests.conftest import MORNING
    from tests.emergency.test_emergency_stop import running_at
    from workflow.walkthrough import Clock
    phone, drain = world.phone, world.drain
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - timedelta(hours=2)))
    drain()
    monkeypatch.setenv("AUDIT_SHARE", "1")
    settings.configure()
    run_all((MORNING + timedelta(hours=1, minutes=5)).isoformat())   # 09:05 at the plant
    drain()
    draw = AuditDraw.get()
    assert draw.drawn == [hot.no] and draw.share == 1.0 and draw.seed
    assert f"抽查 {hot.no}" in everything(phone, "sunli") and "10. 灭火器材已配备到位" in everything(phone, "sunli")

    phone.text("sunli", f"抽查 {hot.no} 不合格 10 灭火器不足")
    drain()
    assert "请先到现场扫描" in said(phone, "sunli")
    assert phone.visit("sunli", hot.no).status_code == 200
    assert CheckIn.select().where(CheckIn.person == find_person("sunli")).exists()
    phone.text("sunli", f"抽查 {hot.no} 不合格 10 灭火器不足")
    drain()
    f = Finding.get()
    assert f"抽查不合格，已登记隐患 {f.no}" in said(phone, "sunli")
    assert (f.source, f.area.name, PermitAudit.get().state) == ("抽查", "3#罐区", "failed")
