"""Check-ins at the work site (issue #8): who counts as on the permit, what a check-in opens, and
what a guardian's leaving does. Real database, the engine's own commands, a simulated clock."""
from __future__ import annotations

import pytest

from models import AuditEvent, CheckIn, Signature, find_person
from tests.workflow.test_rules import (clock_for, drive_to, gas_test, hot, minutes, refused, reload,
                                       working)
from workflow import (GateNotMet, InvalidPermit, check_in, check_out, deadlines,
                      resume, sign, start, template as templates)
from workflow.onsite import roles_on, valid_check_in, work_leader
from workflow.places import area_of

who = find_person


def kinds(permit) -> list[tuple[str, str, str]]:
    rows = CheckIn.select().where(CheckIn.permit == permit).order_by(CheckIn.id)
    return [(c.person.wecom_userid, c.kind, c.role) for c in rows]


def test_each_person_is_on_the_permit_in_their_own_parts(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    assert work_leader(permit).wecom_userid == "jianghan"    # the first worker the applicant named
    assert roles_on(permit, who("zhuyan")) == ["申请人"]
    assert roles_on(permit, who("jianghan")) == ["作业负责人"]
    assert roles_on(permit, who("shenli")) == ["作业人"]
    assert roles_on(permit, who("chuwei")) == ["监护人"]
    assert roles_on(permit, who("chenjian")) == ["气体分析"]
    # A signer of a step still ahead is on the permit as well: approvers come to the site together.
    assert roles_on(permit, who("qiananping")) == ["安全管理部门审批"]
    assert roles_on(permit, who("luodian")) == []


def test_someone_not_on_the_permit_is_recorded_as_a_visit_that_gives_no_rights(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    step = drive_to(permit, "approve_unit", clock)
    site = area_of(permit)   # a scan at a fenced site brings the phone's position
    at_site = {"latitude": site.latitude, "longitude": site.longitude, "accuracy": 10}
    out = check_in(permit.no, by=who("lizheng"), source="scan", location=at_site, now=clock.tick())
    assert "已登记到访，不作为签到" in out.detail
    assert kinds(permit) == [("lizheng", "visit", "到访")]
    # Escalated to him later, his visit still does not count as an on-site check-in.
    deadlines.escalate(permit.no, step.id, now=step.escalate_at)
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=who("lizheng"), now=step.escalate_at + minutes(1))
    check_in(permit.no, by=who("lizheng"), now=step.escalate_at + minutes(2))
    out = sign(permit.no, "approve_unit", by=who("lizheng"), now=step.escalate_at + minutes(3))
    assert out.state == "issued"


def test_a_check_in_records_the_role_and_the_phones_position(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    # The sample's 3#罐区 centre: a position inside the site's 60 m (one outside is refused, test_fence).
    check_in(permit.no, by=who("wuhai"), source="scan", now=clock.tick(),
             location={"latitude": "30.2734", "longitude": "120.1566", "accuracy": "12"})
    row = CheckIn.get()
    assert (row.kind, row.role, row.source) == ("in", "基层单位审批、关闭作业票", "scan")
    assert (row.latitude, row.longitude, row.accuracy) == (30.2734, 120.1566, 12.0)
    event = AuditEvent.select().where(AuditEvent.action == "check_in").get()
    assert event.data["location"] == {"latitude": 30.2734, "longitude": 120.1566, "accuracy": 12.0}
    with pytest.raises(InvalidPermit, match="位置信息"):
        check_in(permit.no, by=who("wuhai"), now=clock.tick(), location={"latitude": "95", "longitude": "0"})


def test_a_check_in_lapses_after_the_templates_minutes_and_a_check_out_ends_it(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    arrived = clock.tick()
    check_in(permit.no, by=who("wuhai"), now=arrived)
    assert valid_check_in(permit, who("wuhai"), arrived + minutes(30), 30) is not None
    assert valid_check_in(permit, who("wuhai"), arrived + minutes(31), 30) is None
    check_out(permit.no, by=who("wuhai"), now=arrived + minutes(5))
    assert valid_check_in(permit, who("wuhai"), arrived + minutes(6), 30) is None
    with refused(GateNotMet, "请先到现场扫码签到", permit):
        sign(permit.no, "approve_unit", by=who("wuhai"), now=arrived + minutes(7))
    with refused(GateNotMet, "没有在本作业票现场签到", permit):
        check_out(permit.no, by=who("wuhai"), now=arrived + minutes(8))


def test_work_starts_only_once_the_guardian_and_the_work_leader_have_checked_in(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "start", clock)
    clock.now = max(clock.now, reload(permit).planned_start)
    from workflow import attach
    attach(permit.no, by=permit.applicant, kind="灭火器", data=b"photo", filename="a.jpg", now=clock.tick())
    gas_test(permit, clock.tick())
    with refused(GateNotMet, "开工前须现场扫码签到：监护人 褚卫、作业负责人 蒋焊（签到 30 分钟内有效）", permit):
        start(permit.no, by=who("chuwei"), now=clock.tick())
    check_in(permit.no, by=who("chuwei"), now=clock.tick())
    with refused(GateNotMet, "开工前须现场扫码签到：作业负责人 蒋焊", permit):
        start(permit.no, by=who("chuwei"), now=clock.tick())
    check_in(permit.no, by=who("shenli"), now=clock.tick())   # a worker, but not the leader
    with refused(GateNotMet, "作业负责人 蒋焊", permit):
        start(permit.no, by=who("chuwei"), now=clock.tick())
    check_in(permit.no, by=who("jianghan"), now=clock.tick())
    assert start(permit.no, by=who("chuwei"), now=clock.tick()).state == "in_progress"


def test_the_guardian_leaving_suspends_the_work_until_they_are_back(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    working(permit, clock)
    check_out(permit.no, by=who("jianghan"), now=clock.tick())       # the leader leaving stops nothing
    assert reload(permit).state == "in_progress"
    left = clock.tick()
    out = check_out(permit.no, by=who("chuwei"), now=left)
    assert out.state == "suspended" and "作业暂停" in out.detail
    events = [(e.action, e.data.get("reason")) for e in AuditEvent.select().where(
        AuditEvent.permit_no == permit.no).order_by(AuditEvent.seq)][-2:]
    assert events == [("check_out", None), ("suspend", "监护人 褚卫 离开现场")]
    told = {(n.person_id, n.kind) for n in out.notifications}
    assert (who("shenli").id, "stop") in told and (who("jianghan").id, "stop") in told
    with refused(GateNotMet, "您已离开现场，请回到现场扫码签到后再恢复作业", permit):
        resume(permit.no, by=who("chuwei"), now=left + minutes(5))
    check_in(permit.no, by=who("chuwei"), now=left + minutes(6))
    assert resume(permit.no, by=who("chuwei"), now=left + minutes(7)).state == "in_progress"


def test_a_template_may_waive_the_site_for_a_step_and_the_reason_goes_on_the_signature(
        plant, tmp_path, monkeypatch):
    from tests.workflow.test_templates import variant
    reason = "二级动火由基层单位远程复核，现场由监护人视频确认"
    waived = templates.load_file(variant(tmp_path, "hot_work",
                                         ("onsite = true", f'onsite = false\nonsite_waiver = "{reason}"')))
    shipped = templates.registry()
    monkeypatch.setattr(templates, "registry", lambda: {**shipped, "hot_work": waived})
    permit = hot("二级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    assert sign(permit.no, "approve_unit", by=who("wuhai"), now=clock.tick()).state == "issued"
    signature = Signature.get(Signature.decision == "approve")
    assert signature.evidence == {"onsite_waived": reason}
    event = AuditEvent.select().where(AuditEvent.action == "sign").order_by(AuditEvent.seq.desc()).get()
    assert event.data["evidence"] == {"onsite_waived": reason}
    assert not CheckIn.select().exists()

