"""盲板抽堵 and isolation: the permit starts behind a verified lockout and names its own blind; a fitted
blind stays in the line (and unreleasable) until a removing permit has closed, which nobody may start
while another permit still relies on the blind."""
from __future__ import annotations

from models import find_person
from models.isolation import IsolationLink, IsolationPoint
from tests.isolation.test_points import isolate, to_close
from tests.workflow.test_rules import clock_for, drive_to, hot, make, on_site, refused, reload
from workflow import GateNotMet, attach, start, template
from isolation import points

BLIND = "MB-P12-03"
who = find_person


def ready_to_start(permit, clock):
    """At the on-site start with the type's photos and the guardian checked in, but no isolation."""
    drive_to(permit, "start", clock)
    clock.now = max(clock.now, reload(permit).planned_start)
    for kind in template.get(permit.work_type).step("start").gates.photos:
        attach(permit.no, by=permit.applicant, kind=kind, data=b"photo", filename="p.jpg", now=clock.tick())
    on_site(reload(permit), clock.tick())


def blind_permit(action: str, **kwargs):
    return make("blind_plate", blind_no=BLIND, action=action, **kwargs)


def test_a_fitting_permit_needs_its_valve_verified_and_its_blind_named_before_it_starts(plant):
    fit = blind_permit("堵")
    clock = clock_for(fit)
    ready_to_start(fit, clock)
    with refused(GateNotMet, f"本作业须先完成能量隔离：请发送“隔离 {fit.no} 点位 方式 锁号”登记隔离点位", fit):
        start(fit.no, by=who("chuwei"), now=clock.tick())
    isolate(fit, clock, tag="V-P12-01")
    points.verify("V-P12-01", by=who("chuwei"), now=clock.tick())
    with refused(GateNotMet, f"请登记本票堵的盲板：发送“隔离 {fit.no} {BLIND} 加盲板 锁号”", fit):
        start(fit.no, by=who("chuwei"), now=clock.tick())
    isolate(fit, clock, tag=BLIND, method="加盲板", lock_no="B-01")
    assert {(l.point.tag, l.purpose) for l in IsolationLink.select()} == {("V-P12-01", "depends"), (BLIND, "fits")}
    assert start(fit.no, by=who("chuwei"), now=clock.tick()).state == "in_progress"


def test_a_fitted_blind_stays_until_a_removing_permit_closes_and_that_waits_for_the_blind_users(plant):
    fit = blind_permit("堵")
    clock = clock_for(fit)
    isolate(fit, clock, tag=BLIND, method="加盲板", lock_no="B-01")
    points.verify(BLIND, by=who("chuwei"), now=clock.tick())
    assert to_close(fit, clock).state == "closed"
    blind = IsolationPoint.get(IsolationPoint.tag == BLIND)
    assert blind.state == "verified"                       # the blind is in the line: nothing to release
    with refused(GateNotMet, f"盲板 {BLIND} 仍在管线上：须办理盲板抽堵（抽）作业票抽除后，方可解除", fit):
        points.release(BLIND, by=who("zhuyan"), now=clock.tick())

    user = hot("二级")                                     # downstream work relies on the blind
    isolate(user, clock, tag=BLIND, method="加盲板", lock_no="B-01")
    remove = blind_permit("抽")
    isolate(remove, clock, tag=BLIND, method="加盲板", lock_no="B-01")
    assert IsolationLink.get(IsolationLink.permit == remove.id).purpose == "removes"
    isolate(remove, clock, tag="V-P12-02")
    points.verify("V-P12-02", by=who("chuwei"), now=clock.tick())
    ready_to_start(remove, clock)
    with refused(GateNotMet, f"盲板 {BLIND} 仍有作业票 {user.no} 依赖，不能抽除", remove):
        start(remove.no, by=who("chuwei"), now=clock.tick())
    to_close(user, clock)
    assert IsolationPoint.get_by_id(blind.id).state == "verified"   # the user closed: still fitted
    assert to_close(remove, clock).state == "closed"
    blind = IsolationPoint.get_by_id(blind.id)
    assert (blind.state, blind.release_to.account) == ("releasing", "zhuyan")
