"""一键应急: every running permit of the area and the places under it stops at once, everyone on them is
called out, the muster counts the taps, a second report joins, and work resumes only the normal way."""
from __future__ import annotations

from datetime import timedelta

import pytest

from emergency import stop
from emergency.muster import minutes, muster
from models import Alarm, AuditEvent, Emergency, Outbox, find_person
from models.permit import Permit
from sensors.alarms import acknowledge
from tests.conftest import MORNING
from workflow import GateNotMet, InvalidPermit, NotAuthorized, create_permit, machine, resume, submit
from workflow.walkthrough import Clock, _act

PEOPLE = {"hot_work": (("jianghan", "shenli"), ("chuwei",)), "height": (("weidong",), ("heliang",))}
SAMPLE = {"hot_work": dict(content="DN100 管线法兰焊接", medium="甲烷", attributes={"declared_grade": "二级"}),
          "height": dict(content="罐顶仪表更换", attributes={"height_m": 12}),
          "excavation": dict(content="埋地管线开挖检修", attributes={"depth_m": 1.5, "area": "6m×2m"})}


def running_at(work_type: str, location: str, clock: Clock, *, crew: tuple[str, ...] = (),
               guardians: tuple[str, ...] = ()) -> Permit:
    """Take a permit of work_type at location to 作业中; its crew and guardians by account, else PEOPLE's."""
    if not crew:
        crew, guardians = PEOPLE[work_type]
    permit = create_permit(work_type, applicant=find_person("zhuyan"), location=location,
                           planned_start=MORNING, planned_end=MORNING + timedelta(hours=8),
                           crew=[find_person(a) for a in crew], guardians=[find_person(a) for a in guardians],
                           now=MORNING - timedelta(hours=3), **SAMPLE[work_type])
    submit(permit.no, by=permit.applicant, now=clock.tick())
    for _ in range(40):
        permit = Permit.get_by_id(permit.id)
        if permit.state == "in_progress":
            return permit
        step = machine.active_step(permit)
        if step.phase == "start" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        _act(permit, step, clock, lambda line: None)
    raise AssertionError(f"{permit.no} stuck in {permit.state}")


@pytest.fixture
def clock(plant) -> Clock:
    return Clock(MORNING - timedelta(hours=2))


@pytest.fixture
def tank_farm(clock):
    """Two permits running at 3#罐区 and one at 1#罐区, all under 储运罐区; one in 常减压装置."""
    return {"hot": running_at("hot_work", "3#罐区 东侧管廊", clock),
            "roof": running_at("height", "3#罐区 罐顶", clock),
            "other_unit": running_at("hot_work", "常减压装置 反应釜区 北侧", clock)}


def cards(alarm: Alarm) -> set[str]:
    return {row.person.account for row in Outbox.select().where(Outbox.dedupe_key.startswith(f"alarm:{alarm.id}:"))}


def test_an_emergency_stops_every_running_permit_under_the_area_and_calls_everyone(tank_farm, clock):
    raised = stop.raise_emergency("储运罐区 3#罐区东侧法兰泄漏着火", by=find_person("chuwei"), now=clock.tick())
    e = raised.emergency
    hot, roof, other = (Permit.get_by_id(tank_farm[k].id) for k in ("hot", "roof", "other_unit"))
    assert (hot.state, roof.state, other.state) == ("suspended", "suspended", "in_progress")
    assert raised.suspended == (hot.no, roof.no) and not raised.joined
    assert (e.area.name, e.text, e.drill) == ("储运罐区", "3#罐区东侧法兰泄漏着火", False)
    # Everyone on both permits, the rescue team and the unit's safety officer get the card.
    people = cards(e.alarm)
    assert {"jianghan", "shenli", "chuwei", "weidong", "heliang", "zhuyan", "sunli", "zhouqiang"} <= people
    assert not {"lvming", "luodian"} & people
    assert e.alarm.level == "应急" and e.alarm.text == "【应急】储运罐区：3#罐区东侧法兰泄漏着火"
    event = AuditEvent.get(AuditEvent.action == "emergency")
    assert (event.data["permits"], event.data["suspended"]) == ([hot.no, roof.no], [hot.no, roof.no])


def test_the_muster_completes_when_everyone_on_the_permits_has_tapped(tank_farm, clock):
    e = stop.raise_emergency("3#罐区 东侧法兰泄漏", by=find_person("sunli"), now=clock.tick()).emergency
    listed = [x.person.account for x in muster(e, clock.now).entries]
    assert sorted(listed) == ["chuwei", "heliang", "jianghan", "shenli", "weidong"]
    for account in listed[:-1]:
        assert acknowledge(e.alarm_id, by=find_person(account), channel="cli", now=clock.tick()).startswith(
            "已撤离到安全区")
    late = muster(e, e.raised_at + timedelta(minutes=minutes() + 1))
    assert [(x.person.account, x.late) for x in late.missing] == [(listed[-1], True)]
    acknowledge(e.alarm_id, by=find_person(listed[-1]), channel="cli", now=clock.tick())
    assert muster(e, clock.now).complete


def test_a_second_emergency_for_the_same_area_joins_the_open_one(tank_farm, clock):
    first = stop.raise_emergency("储运罐区 泄漏", by=find_person("sunli"), now=clock.tick()).emergency
    again = stop.raise_emergency("3#罐区 看到明火", by=find_person("jianghan"), now=clock.tick())
    assert again.joined and again.emergency.id == first.id
    assert Emergency.select().count() == 1 and Alarm.select().where(Alarm.level == "应急").count() == 1
    assert Emergency.get().text == "泄漏\n蒋焊（3#罐区）：看到明火"


def test_work_resumes_only_after_the_emergency_is_closed_and_the_normal_retest(tank_farm, clock):
    hot = tank_farm["hot"]
    stop.raise_emergency("3#罐区 泄漏", by=find_person("sunli"), now=clock.tick())
    with pytest.raises(GateNotMet, match="3#罐区的【应急】尚未解除，不能恢复作业"):
        resume(hot.no, by=find_person("chuwei"), now=clock.tick())
    with pytest.raises(NotAuthorized, match="不能解除应急"):
        stop.close("3#罐区 已处置", by=find_person("jianghan"), now=clock.tick())
    closed = stop.close("3#罐区 泄漏点已封堵，检测合格", by=find_person("sunli"), now=clock.tick())
    assert (closed.handling, closed.closed_by.account) == ("泄漏点已封堵，检测合格", "sunli")
    # An hour later: hot work 二级 paused over 60 minutes needs a fresh gas test first.
    clock.now += timedelta(minutes=61)
    with pytest.raises(GateNotMet, match="没有暂停后气体分析记录"):
        resume(hot.no, by=find_person("chuwei"), now=clock.tick())
    assert Permit.get_by_id(hot.id).state == "suspended"


def test_a_drill_runs_the_same_flow_marked_as_a_drill(tank_farm, clock):
    e = stop.raise_emergency("3#罐区 模拟泄漏", by=find_person("sunli"), drill=True, now=clock.tick()).emergency
    assert e.drill and e.alarm.level == "演练" and e.alarm.text.startswith("【演练】3#罐区")
    assert Permit.get_by_id(tank_farm["hot"].id).state == "suspended"


@pytest.mark.parametrize("words, by, error, message", [
    ("5#罐区 泄漏", "sunli", InvalidPermit, "区域“5#罐区”不在本厂区域表中，最接近的是：3#罐区"),
    ("3#罐区", "sunli", InvalidPermit, "请说明情况"),
    ("3#罐区 泄漏", "lvming", NotAuthorized, "吕明不在3#罐区的作业票上，也不是安全员或应急救援人员"),
], ids=["not-in-the-tree", "nothing-said", "not-allowed"])
def test_a_bad_emergency_is_refused_and_changes_nothing(tank_farm, clock, words, by, error, message):
    with pytest.raises(error, match=message):
        stop.raise_emergency(words, by=find_person(by), now=clock.tick())
    assert Emergency.select().count() == 0 and Permit.get_by_id(tank_farm["hot"].id).state == "in_progress"


def test_the_card_names_the_place_its_position_and_what_was_said(tank_farm, clock):
    from cards.alarm import alarm_card
    e = stop.raise_emergency("2#罐区 泄漏", by=find_person("sunli"), now=clock.tick()).emergency
    card = alarm_card(e.alarm_id, person_id=find_person("sunli").id, round=1, public_base_url="http://plant")
    assert card.title == "【应急】立即停止作业，撤离到安全区" and card.subtitle == "【应急】2#罐区：泄漏"
    assert [b.label for b in card.buttons] == ["已撤离到安全区"]
    # 2#罐区 has no position of its own: 储运罐区's is shown, named.
    assert card.field("坐标") == "30.27320, 120.15620（储运罐区）"
