"""Energy isolation on the engine: points gate the start, are shared, and are released only after the
last dependent permit ends. Real database, the engine's commands, a simulated clock."""
from __future__ import annotations

from models import AuditEvent, Outbox, find_person
from models.isolation import IsolationLink, IsolationPoint
from tests.workflow.test_rules import (_act, clock_for, drive_to, gas_test, hot, on_site, refused,
                                       reload, submitted)
from workflow import GateNotMet, InvalidPermit, NotAuthorized, attach, machine, start
from isolation import points

who = find_person


def isolate(permit, clock, tag="V-101", by="zhuyan", **kwargs):
    return points.register(permit.no, tag=tag, method=kwargs.pop("method", "关阀上锁"),
                           lock_no=kwargs.pop("lock_no", "L-01"), by=who(by), now=clock.tick(), **kwargs)


def ready_to_start(permit, clock):
    drive_to(permit, "start", clock)
    clock.now = max(clock.now, reload(permit).planned_start)
    attach(permit.no, by=permit.applicant, kind="灭火器", data=b"photo", filename="a.jpg", now=clock.tick())
    gas_test(permit, clock.tick())
    on_site(reload(permit), clock.tick())


def to_close(permit, clock):
    for _ in range(30):
        permit = reload(permit)
        if permit.state == "closed":
            return permit
        if permit.state == "draft":
            submitted(permit, clock)
            continue
        if permit.state == "issued" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        _act(permit, machine.active_step(permit), clock, lambda line: None)
    raise AssertionError(f"{permit.no} never closed")


def test_the_start_waits_for_every_point_to_be_verified_by_a_second_person(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    out = isolate(permit, clock)
    assert "V-101（关阀上锁，锁 L-01）已隔离" in out.detail
    point = IsolationPoint.get()
    # The guardian is asked to verify it, on a card whose click is the signature.
    asked = Outbox.get(Outbox.kind == "isolation")
    assert (asked.person_id, asked.payload["ask"]) == (who("chuwei").id, "verify")
    ready_to_start(permit, clock)
    with refused(GateNotMet, "能量隔离未完成，不能开工：V-101（已隔离待确认）", permit):
        start(permit.no, by=who("chuwei"), now=clock.tick())
    with refused(NotAuthorized, "隔离须由第二人确认：朱岩是点位 V-101 的隔离人", permit):
        points.verify("V-101", by=who("zhuyan"), now=clock.tick())
    with refused(NotAuthorized, "秦川与点位 V-101 所属的作业票无关", permit):
        points.verify("V-101", by=who("qinchuan"), now=clock.tick())
    points.verify("V-101", by=who("chuwei"), now=clock.tick())
    assert IsolationPoint.get_by_id(point.id).state == "verified"
    assert start(permit.no, by=who("chuwei"), now=clock.tick()).state == "in_progress"
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.permit_no == permit.no)]
    assert "isolate" in actions and "verify_isolation" in actions


def test_a_template_that_needs_isolation_refuses_a_start_without_points(plant, monkeypatch):
    from dataclasses import replace
    from workflow import template as templates
    needing = replace(templates.get("hot_work"), isolation=True)
    monkeypatch.setitem(templates.registry(), "hot_work", needing)
    permit = hot("二级")
    clock = clock_for(permit)
    ready_to_start(permit, clock)
    with refused(GateNotMet, f"本作业须先完成能量隔离：请发送“隔离 {permit.no} 点位 方式 锁号”", permit):
        start(permit.no, by=who("chuwei"), now=clock.tick())


def test_bad_isolation_input_is_refused_and_changes_nothing(plant):
    permit = hot("二级")
    clock = clock_for(permit)
    with refused(InvalidPermit, "隔离方式“拧紧”无效，可选：关阀上锁、断电上锁、加盲板、拆除管段", permit):
        isolate(permit, clock, method="拧紧")
    with refused(NotAuthorized, "秦川与作业票", permit):
        isolate(permit, clock, by="qinchuan")
    isolate(permit, clock)
    with refused(InvalidPermit, "点位 V-101 已由 朱岩 以锁 L-01 隔离，锁号 L-99 不符", permit):
        isolate(hot("二级"), clock, lock_no="L-99")
    assert IsolationPoint.select().count() == 1 and IsolationLink.select().count() == 1


def test_a_shared_point_is_released_only_after_both_permits_close(plant):
    first, second = hot("二级"), hot("二级", guardians=("weidong",))
    clock = clock_for(first)
    isolate(first, clock)
    joined = isolate(second, clock)
    assert f"与 {first.no} 共用" in joined.detail
    point = IsolationPoint.get()
    points.verify("V-101", by=who("chuwei"), now=clock.tick())
    to_close(first, clock)
    with refused(GateNotMet, f"点位 V-101 不能解除隔离：作业票 {second.no} 尚未关闭", first):
        points.release("V-101", by=who("zhuyan"), now=clock.tick())
    assert IsolationPoint.get_by_id(point.id).state == "verified"
    to_close(second, clock)
    point = IsolationPoint.get_by_id(point.id)
    assert (point.state, point.release_to_id) == ("releasing", who("zhuyan").id)
    release_card = Outbox.get(Outbox.dedupe_key == f"isolation:{point.id}:release:{who('zhuyan').id}")
    assert release_card.payload == {"kind": "isolation", "point": point.id, "ask": "release"}
    with refused(NotAuthorized, "点位 V-101 的解除隔离应由 朱岩 签字", second):
        points.release("V-101", by=who("jianghan"), now=clock.tick())
    assert "已解除隔离" in points.release("V-101", by=who("zhuyan"), now=clock.tick())
    point = IsolationPoint.get_by_id(point.id)
    assert (point.state, point.released_by_id) == ("released", who("zhuyan").id)
    released = AuditEvent.select().where(AuditEvent.action == "release_isolation")
    assert {e.permit_no for e in released} == {first.no, second.no}
