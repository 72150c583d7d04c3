"""A finding's flow in the domain: found, assigned, rectified with photos, re-checked; refusals change nothing;
overdue findings climb the responsible unit's chain; a 重大 finding can hold new permits in its area."""
from __future__ import annotations

from datetime import timedelta

import pytest

from hazards import deadlines, findings
from models import AuditEvent, Finding, FindingPhoto, Outbox, find_person
from models.permit import Permit
from tests.conftest import MORNING
from workflow import GateNotMet, InvalidPermit, InvalidTransition, NotAuthorized, create_permit, submit
from workflow.errors import NotFound

DUE = MORNING + timedelta(days=1)
MAJOR = findings.Options(grade="重大", blocks_permits=True)


def told(account: str) -> list[str]:
    person = find_person(account)
    return [r.payload["text"] for r in Outbox.select().where(Outbox.person == person).order_by(Outbox.id)]


def snapshot() -> tuple:
    return (list(Finding.select().tuples()), FindingPhoto.select().count(),
            AuditEvent.select().where(AuditEvent.action != "refused").count())


def rectifying(now=MORNING):
    f = findings.report("3#罐区 东侧消防通道被杂物堵塞", by=find_person("chuwei"), now=now)
    findings.assign(f.no, "jianghan", DUE, by=find_person("sunli"), now=now + timedelta(minutes=5))
    findings.start(f.no, by=find_person("jianghan"), now=now + timedelta(minutes=10))
    return f


def test_a_finding_goes_from_found_to_closed_after_a_failed_recheck(plant):
    f = findings.report("3#罐区 东侧消防通道被杂物堵塞", by=find_person("chuwei"), now=MORNING)
    assert (f.state, f.area.name, f.description) == ("found", "3#罐区", "东侧消防通道被杂物堵塞")
    assert any(f.no in t and "请指派整改" in t for t in told("sunli"))   # the area's safety officer
    findings.add_photo(f.no, by=find_person("chuwei"), data=b"found", now=MORNING)
    findings.assign(f.no, "jianghan", DUE, by=find_person("sunli"), now=MORNING + timedelta(minutes=5))
    assert any("整改期限 2026-11-25 08:00" in t for t in told("jianghan"))
    findings.start(f.no, by=find_person("jianghan"), now=MORNING + timedelta(minutes=10))
    with pytest.raises(InvalidPermit, match="请先发送整改后的现场照片"):
        findings.rectify(f.no, "已清理", by=find_person("jianghan"), now=MORNING + timedelta(minutes=20))
    findings.add_photo(f.no, by=find_person("jianghan"), data=b"after", now=MORNING + timedelta(minutes=30))
    findings.rectify(f.no, "已清理", by=find_person("jianghan"), now=MORNING + timedelta(minutes=31))
    assert any("请到现场复查" in t for t in told("chuwei"))

    findings.recheck(f.no, False, "仍有纸箱", by=find_person("chuwei"), now=MORNING + timedelta(hours=1))
    f = Finding.get_by_id(f.id)
    assert (f.state, f.rejections) == ("rectifying", 1)
    with pytest.raises(InvalidPermit, match="请先发送整改后的现场照片"):   # the rejected round's photo counts no more
        findings.rectify(f.no, "再清理", by=find_person("jianghan"), now=MORNING + timedelta(hours=2))
    findings.add_photo(f.no, by=find_person("jianghan"), data=b"again", now=MORNING + timedelta(hours=2))
    findings.rectify(f.no, "再清理", by=find_person("jianghan"), now=MORNING + timedelta(hours=2))
    findings.recheck(f.no, True, by=find_person("chuwei"), now=MORNING + timedelta(hours=3))
    f = Finding.get_by_id(f.id)
    assert (f.state, f.checked_by.name, f.closed_at) == ("closed", "褚卫", MORNING + timedelta(hours=3))
    assert [p.stage for p in f.photos.order_by(FindingPhoto.id)] == ["发现", "整改", "整改"]
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("hazard_"))
               .order_by(AuditEvent.seq)]
    assert actions == ["hazard_found", "hazard_photo", "hazard_assigned", "hazard_rectifying", "hazard_photo",
                       "hazard_rectified", "hazard_rejected", "hazard_photo", "hazard_rectified", "hazard_closed"]


@pytest.mark.parametrize("words, error", [
    ("", "请写明地点和隐患描述"),
    ("3#罐区", "请写明隐患描述"),
    ("4#罐区 消防通道堵塞", "不在本厂区域表中"),
])
def test_a_finding_without_a_place_or_a_description_is_refused(plant, words, error):
    with pytest.raises(InvalidPermit, match=error):
        findings.report(words, by=find_person("chuwei"), now=MORNING)
    assert Finding.select().count() == 0 and Outbox.select().count() == 0


def test_bad_commands_are_refused_and_change_nothing(plant):
    f = rectifying()
    before = snapshot()
    with pytest.raises(InvalidTransition, match="不能再指派"):
        findings.assign(f.no, "shenli", DUE, by=find_person("sunli"), now=MORNING)
    with pytest.raises(InvalidTransition, match="沈力现在不能为它添加照片"):
        findings.add_photo(f.no, by=find_person("shenli"), data=b"x", now=MORNING)
    with pytest.raises(NotAuthorized, match="整改责任人是蒋焊"):
        findings.rectify(f.no, "", by=find_person("shenli"), now=MORNING)
    with pytest.raises(NotFound, match="没有编号为 YH-20261124-0099 的隐患"):
        findings.start("YH-20261124-0099", by=find_person("jianghan"))
    assert snapshot() == before


def test_a_new_finding_is_assigned_only_by_safety_people_and_never_into_the_past(plant):
    f = findings.report("3#罐区 东侧消防通道被杂物堵塞", by=find_person("chuwei"), now=MORNING)
    before = snapshot()
    with pytest.raises(NotAuthorized, match="不能指派"):
        findings.assign(f.no, "jianghan", DUE, by=find_person("shenli"), now=MORNING)
    with pytest.raises(InvalidPermit, match="整改期限 2026-11-24 07:00 已过"):
        findings.assign(f.no, "jianghan", MORNING - timedelta(hours=1), by=find_person("sunli"), now=MORNING)
    assert snapshot() == before


def test_the_rectifier_cannot_recheck_and_a_closed_finding_takes_no_photo(plant):
    f = rectifying()
    findings.add_photo(f.no, by=find_person("jianghan"), data=b"after", now=MORNING + timedelta(minutes=30))
    findings.rectify(f.no, "已清理", by=find_person("jianghan"), now=MORNING + timedelta(minutes=31))
    before = snapshot()
    with pytest.raises(NotAuthorized, match="不能复查自己的整改"):
        findings.recheck(f.no, True, by=find_person("jianghan"), now=MORNING + timedelta(hours=1))
    with pytest.raises(NotAuthorized, match="不是 .* 的发现人或安全员"):
        findings.recheck(f.no, True, by=find_person("shenli"), now=MORNING + timedelta(hours=1))
    with pytest.raises(InvalidPermit, match="请写明不通过的原因"):
        findings.recheck(f.no, False, by=find_person("chuwei"), now=MORNING + timedelta(hours=1))
    assert snapshot() == before
    findings.recheck(f.no, True, by=find_person("chuwei"), now=MORNING + timedelta(hours=1))
    before = snapshot()
    with pytest.raises(InvalidTransition, match="已关闭，不能再添加照片"):
        findings.add_photo(f.no, by=find_person("chuwei"), data=b"late", now=MORNING + timedelta(hours=2))
    assert findings.photo_from_chat(find_person("chuwei"), b"late").endswith("已关闭，不能再添加照片")
    assert snapshot() == before


def test_an_overdue_finding_is_reminded_then_escalated_up_the_units_chain(plant):
    f = rectifying()
    assert deadlines.remind_due(DUE - timedelta(minutes=1)) == 0
    assert deadlines.remind_due(DUE) == 1
    assert deadlines.remind_due(DUE) == 0       # taken once
    assert any("已超过整改期限" in t for t in told("jianghan"))
    step = deadlines.ESCALATE_EVERY
    assert deadlines.escalate_due(DUE + step - timedelta(minutes=1)) == 0
    assert deadlines.escalate_due(DUE + step) == 1
    assert any("超期上报" in t and f.no in t for t in told("wuhai") + told("shiwen"))   # 常减压车间's heads
    assert not any("超期上报" in t for t in told("lizheng"))
    assert deadlines.escalate_due(DUE + 2 * step) == 1
    assert any("超期上报" in t for t in told("lizheng"))                               # 生产技术部
    assert deadlines.escalate_due(DUE + 3 * step) == 1
    assert any("超期上报" in t for t in told("zhaojianguo"))                           # the plant's leaders
    assert Finding.get_by_id(f.id).escalate_at is None                                # the chain is used up
    assert deadlines.escalate_due(DUE + 9 * step) == 0


def test_a_rectified_finding_is_no_longer_chased(plant):
    f = rectifying()
    findings.add_photo(f.no, by=find_person("jianghan"), data=b"after", now=MORNING + timedelta(minutes=30))
    findings.rectify(f.no, "已清理", by=find_person("jianghan"), now=MORNING + timedelta(minutes=31))
    assert deadlines.remind_due(DUE + timedelta(days=5)) == 0
    assert deadlines.escalate_due(DUE + timedelta(days=5)) == 0


def _hot_work_at(location: str) -> Permit:
    return create_permit("hot_work", applicant=find_person("zhuyan"), location=location, content="法兰焊接",
                         medium="甲烷", attributes={"declared_grade": "二级"}, planned_start=MORNING,
                         planned_end=MORNING + timedelta(hours=8), crew=[find_person("jianghan")],
                         guardians=[find_person("chuwei")], now=MORNING - timedelta(hours=3))


def test_a_major_finding_tells_the_safety_department_and_holds_new_permits_in_its_area(plant):
    f = findings.report("储运罐区 罐区围堰破损，泄漏无法收集", by=find_person("chuwei"), options=MAJOR,
                        now=MORNING - timedelta(hours=2))
    for account in ("qiananping", "sunli", "lvming"):
        assert any("重大隐患报告" in t and f.no in t for t in told(account)), account
    held = _hot_work_at("3#罐区 东侧管廊")   # under 储运罐区
    with pytest.raises(GateNotMet, match=f"未关闭的重大隐患 {f.no}"):
        submit(held.no, by=held.applicant, now=MORNING - timedelta(hours=1))
    assert Permit.get_by_id(held.id).state == "draft"
    elsewhere = _hot_work_at("常减压装置 检修区")
    submit(elsewhere.no, by=elsewhere.applicant, now=MORNING - timedelta(hours=1))

    findings.assign(f.no, "qinchuan", DUE, by=find_person("sunli"), now=MORNING - timedelta(minutes=50))
    findings.start(f.no, by=find_person("qinchuan"), now=MORNING - timedelta(minutes=40))
    findings.add_photo(f.no, by=find_person("qinchuan"), data=b"fixed", now=MORNING - timedelta(minutes=30))
    findings.rectify(f.no, "围堰已修复", by=find_person("qinchuan"), now=MORNING - timedelta(minutes=20))
    findings.recheck(f.no, True, by=find_person("chuwei"), now=MORNING - timedelta(minutes=10))
    submit(held.no, by=held.applicant, now=MORNING - timedelta(minutes=5))
    assert Permit.get_by_id(held.id).state == "in_approval"


def test_an_ordinary_finding_cannot_hold_permits(plant):
    before = snapshot()
    with pytest.raises(InvalidPermit, match="只有重大隐患可以停止该区域办理新的作业票"):
        findings.report("3#罐区 标识牌脱落", by=find_person("chuwei"),
                        options=findings.Options(blocks_permits=True), now=MORNING)
    assert snapshot() == before
