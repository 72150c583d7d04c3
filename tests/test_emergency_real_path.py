"""一键应急 end to end, on WeCom and on DingTalk: raised in chat, every running permit of the area stops,
the alarm card with 已撤离到安全区 reaches everyone on them, their taps complete the muster."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Emergency, Person
from models.permit import Permit
from tests.emergency.test_emergency_stop import running_at
from tests.conftest import MORNING
from tests.worlds import world as a_world
from workflow.walkthrough import Clock

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
ON_PERMITS = ("jianghan", "shenli", "chuwei", "weidong", "heliang")


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(getattr(request, "param", "wecom"), plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1])


@BOTH
def test_an_emergency_raised_in_chat_stops_the_area_and_the_muster_fills_with_taps(world):
    phone, drain = world.phone, world.drain
    clock = Clock(MORNING - timedelta(hours=2))
    hot, roof = running_at("hot_work", "3#罐区 东侧管廊", clock), running_at("height", "3#罐区 罐顶", clock)
    drain()

    phone.text("chuwei", "应急 3#罐区 东侧法兰泄漏，有火苗")
    drain()
    assert {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"suspended"}
    e = Emergency.get()
    assert f"已暂停：{hot.no}、{roof.no}" in said(phone, "chuwei")
    for account in ON_PERMITS + ("sunli", "zhouqiang"):
        card = phone.open_card(account, f"alarm-{e.alarm_id}-")
        assert card is not None, f"{account} got no emergency card"
        assert phone.buttons(card) == ["已撤离到安全区"]
        assert "东侧法兰泄漏，有火苗" in str(card["state"]["card"])

    phone.text("sunli", "清点 3#罐区")
    drain()
    assert "已撤离 0 / 5" in said(phone, "sunli")
    for account in ON_PERMITS:
        phone.click(account, phone.open_card(account, f"alarm-{e.alarm_id}-"))
        drain()
        assert phone.open_card(account, f"alarm-{e.alarm_id}-") is None   # the card settled in place
    phone.text("sunli", "清点 3#罐区")
    drain()
    assert "已撤离 5 / 5" in said(phone, "sunli") and "全部人员已撤离到安全区" in said(phone, "sunli")

    phone.text("jianghan", "应急 3#罐区 西侧也有泄漏")        # a second report joins the open one
    drain()
    assert Emergency.select().count() == 1 and "已并入" in said(phone, "jianghan")

    phone.text("sunli", "解除应急 3#罐区 泄漏点已封堵，现场检测合格")
    drain()
    assert Emergency.get().handling == "泄漏点已封堵，现场检测合格"
    assert "须经气体复测、监护人确认后方可恢复" in said(phone, "jianghan")
    assert {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"suspended"}
    assert Person.get(Person.wecom_userid == "lvming").id not in Emergency.get().alarm.recipients


def test_the_muster_page_shows_who_is_safe_and_refuses_a_wrong_token(world):
    import requests
    from emergency import stop
    from emergency.muster import url
    from models import find_person
    from sensors.alarms import acknowledge
    clock = Clock(MORNING - timedelta(hours=2))
    running_at("hot_work", "3#罐区 东侧管廊", clock)
    e = stop.raise_emergency("3#罐区 泄漏", by=find_person("sunli"), now=clock.tick()).emergency
    acknowledge(e.alarm_id, by=find_person("jianghan"), channel="cli", now=clock.tick())
    page = requests.get(url(e), timeout=10)
    assert page.status_code == 200
    assert 'data-safe="1" data-total="3"' in page.text and "蒋焊" in page.text and "未确认" in page.text
    assert requests.get(url(e)[:-4] + "0000", timeout=10).status_code == 404
