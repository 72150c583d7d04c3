"""Shift handover on the engine: who may hand over to whom, both confirmations, and what changes after.
Real database, the engine's commands, a simulated clock."""
from __future__ import annotations

from models import AuditEvent, Certificate, CheckIn, StepAssignee, find_person
from models.handover import Handover
from tests.workflow.test_rules import clock_for, hot, refused, reload, working
from workflow import (GateNotMet, NotAuthorized, NotCertified, NotFound, check_in, check_out, handover,
                      machine, sign, work)

who = find_person


def test_bad_handovers_are_refused_and_change_nothing(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    working(permit, clock)
    with refused(NotFound, "找不到人员 nobody：接班人须是本厂组织架构中的在职人员", permit):
        handover.request(permit.no, "nobody", by=who("chuwei"), now=clock.tick())
    with refused(NotAuthorized, "沈力没有“监护人”资格，不能接任监护人", permit):
        handover.request(permit.no, "shenli", by=who("chuwei"), now=clock.tick())
    Certificate.delete().where(Certificate.person == who("heliang")).execute()
    with refused(NotCertified, "何亮（监护人）没有登记监护人培训合格证", permit):
        handover.request(permit.no, "heliang", by=who("chuwei"), now=clock.tick())
    with refused(NotAuthorized, "沈力不是作业票", permit):
        handover.request(permit.no, "weidong", by=who("shenli"), now=clock.tick())
    assert Handover.select().count() == 0
    assert [m.person.wecom_userid for m in reload(permit).members if m.role == "监护人"] == ["chuwei"]


def test_a_guardian_handed_over_properly_keeps_the_work_going_and_signs_no_more(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    working(permit, clock)
    out = handover.request(permit.no, "weidong", by=who("chuwei"), now=clock.tick())
    assert "监护人 褚卫 → 卫东" in out.detail
    row = Handover.get()
    assert row.situation["监护人"] == "褚卫" and row.situation["待办"].startswith("完工确认")
    with refused(NotAuthorized, "应由交班人 褚卫 先确认作业状态", permit):
        handover.confirm(row.id, by=who("weidong"), now=clock.tick())
    handover.confirm(row.id, by=who("chuwei"), now=clock.tick())
    with refused(GateNotMet, "请先到现场扫码签到（30 分钟内有效），再确认接班", permit):
        handover.confirm(row.id, by=who("weidong"), now=clock.tick())
    check_in(permit.no, by=who("weidong"), now=clock.tick())
    assert CheckIn.select().where(CheckIn.person == who("weidong")).get().role == "接班人"
    # Until both confirmed, the permit's people are as they were.
    assert [p.name for p in machine.members(reload(permit), "监护人")] == ["褚卫"]
    done = handover.confirm(row.id, by=who("weidong"), now=clock.tick())
    assert done.state == "in_progress"
    assert [p.name for p in machine.members(reload(permit), "监护人")] == ["卫东"]
    step = machine.active_step(reload(permit))
    assert [p.name for p in machine.assignees(step)] == ["卫东"]
    assert StepAssignee.get(StepAssignee.person == who("weidong")).reason == "handover"
    # The old guardian leaving no longer stops the work, and cannot sign.
    check_out(permit.no, by=who("chuwei"), now=clock.tick())
    assert reload(permit).state == "in_progress"
    with refused(NotAuthorized, "褚卫不是“完工确认”的签字人，应由 卫东 签字", permit):
        sign(permit.no, "complete", by=who("chuwei"), now=clock.tick())
    work.attach(permit.no, by=reload(permit).applicant, kind="完工现场", data=b"cleared site", filename="done.jpg",
                now=clock.tick())   # hot work's completion needs the finished site's photo
    assert sign(permit.no, "complete", by=who("weidong"), now=clock.tick()).state == "completed"
    events = [e.action for e in AuditEvent.select().where(AuditEvent.permit_no == permit.no)]
    assert events.count("handover") == 1 and events.count("handover_confirm") == 2


def test_the_new_guardian_leaving_still_stops_the_work(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    working(permit, clock)
    row_id = handover.request(permit.no, "weidong", by=who("chuwei"), now=clock.tick()) and Handover.get().id
    handover.confirm(row_id, by=who("chuwei"), now=clock.tick())
    check_in(permit.no, by=who("weidong"), now=clock.tick())
    handover.confirm(row_id, by=who("weidong"), now=clock.tick())
    out = check_out(permit.no, by=who("weidong"), now=clock.tick())
    assert out.state == "suspended"
