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


def muster_card(phone, user: str, e) -> tuple[int, str]:
    """Return how many muster cards user holds for e, and the newest one's content."""
    held = [m for m in phone.messages(user) if (m.get("task_id") or "").startswith(f"muster-{e.id}-")]
    return len(held), str(held[-1]["state"]["card"]) if held else ""


@BOTH
def test_the_muster_card_of_the_people_in_charge_updates_in_place_and_flags_the_late(world):
    from emergency.muster import minutes
    from jobs import scans
    from models import Emergency as E
    phone, drain = world.phone, world.drain
    clock = Clock(MORNING - timedelta(hours=2))
    running_at("hot_work", "3#罐区 东侧管廊", clock), running_at("height", "3#罐区 罐顶", clock)
    drain()
    phone.text("chuwei", "应急 3#罐区 东侧法兰泄漏")
    drain()
    e = Emergency.get()
    # Who raised it and the area's safety officer hold the card; a worker on the permits does not.
    for account in ("chuwei", "sunli"):
        count, card = muster_card(phone, account, e)
        assert count == 1 and "0 / 5" in card and "刷新清点" in card and "未确认：" in card
    assert muster_card(phone, "jianghan", e)[0] == 0

    phone.click("jianghan", phone.open_card("jianghan", f"alarm-{e.alarm_id}-"))
    drain()
    count, card = muster_card(phone, "sunli", e)
    assert count == 1 and "1 / 5" in card and "已撤离：蒋焊" in card        # the same card, changed

    phone.click("shenli", phone.open_card("shenli", f"alarm-{e.alarm_id}-"))
    drain()
    count, card = muster_card(phone, "sunli", e)
    # WeCom spends an update code per change: the card waits for 刷新清点; DingTalk updates it again.
    assert count == 1 and ("1 / 5" if world.platform == "wecom" else "2 / 5") in card
    phone.click("sunli", phone.open_card("sunli", f"muster-{e.id}-"))
    drain()
    count, card = muster_card(phone, "sunli", e)
    assert count == 1 and "2 / 5" in card

    # Past the configured minutes the scan flags whoever has not tapped, on the card in place.
    E.update(raised_at=e.raised_at - timedelta(minutes=minutes() + 1)).where(E.id == e.id).execute()
    scans.run_all()
    drain()
    count, card = muster_card(phone, "sunli", e)
    assert f"超过 {minutes()} 分钟未确认，请立即寻找：" in card and "褚卫" in card and "超时未确认" in card
    scans.run_all()           # flagged once: a second scan adds nothing
    drain()
    assert muster_card(phone, "sunli", e)[0] == count

    for account in ("chuwei", "weidong", "heliang"):
        phone.click(account, phone.open_card(account, f"alarm-{e.alarm_id}-"))
        drain()
    count, card = muster_card(phone, "sunli", e)
    assert "5 / 5" in card and "全部人员已撤离到安全区" in card
    phone.text("sunli", "解除应急 3#罐区 泄漏点已封堵")
    drain()
    count, card = muster_card(phone, "sunli", e)
    assert "（已解除）" in card and "泄漏点已封堵" in card and "刷新清点" not in card
    if world.platform == "dingtalk":
        # One card the whole way through; WeCom's milestones (late, all out, closed) came as fresh cards.
        assert count == 1 and phone.open_card("sunli", f"muster-{e.id}-") is None


def sos(world, user: str, permit: Permit, **form):
    """Scan the permit's site QR code with user's app and submit the board's 一键应急 form."""
    return sos_at(world, user, world.phone.site_code(permit.no), **form)


def sos_at(world, user: str, code: str, **form):
    """Open what a QR code holds with user's app and submit the page's 一键应急 form (if it offers one)."""
    import re
    import requests
    browser, page = world.phone.open_code(user, code)
    assert page.status_code == 200
    found = re.search(r'<form method="post" action="([^"]+/emergency\?[^"]+)"', page.text)
    if found is None:
        return page, None
    url = requests.compat.urljoin(page.url, found.group(1).replace("&amp;", "&"))
    return page, browser.post(url, data=form, headers={"Origin": world.app}, timeout=10)


@BOTH
def test_the_board_raises_an_emergency_for_whoever_scanned_with_confirmation_and_refusals(world):
    import requests
    from models import AuditEvent
    drain = world.drain
    clock = Clock(MORNING - timedelta(hours=2))
    hot, roof = running_at("hot_work", "3#罐区 东侧管廊", clock), running_at("height", "3#罐区 罐顶", clock)
    drain()
    page, answer = sos(world, "jianghan", hot, text="东侧法兰泄漏")          # not confirmed
    assert "一键应急" in page.text and 'name="drill"' not in page.text     # a worker cannot start a drill
    assert answer.status_code == 400 and "请勾选确认" in answer.text
    _, answer = sos(world, "jianghan", hot, text="  ", confirm="1")
    assert answer.status_code == 400 and "请说明情况" in answer.text
    _, answer = sos(world, "jianghan", hot, text="东侧法兰泄漏", confirm="1", drill="1")
    assert answer.status_code == 403 and "演练须由安全员或应急救援人员发起" in answer.text
    # Without the scan's proof of who is there, nothing is raised.
    bare = requests.post(world.phone.site_code(hot.no).replace("?s=", "/emergency?s="),
                         data={"text": "泄漏", "confirm": "1"}, timeout=10)
    assert bare.status_code == 403 and "请重新扫码" in bare.text
    assert Emergency.select().count() == 0 and {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"in_progress"}

    _, answer = sos(world, "jianghan", hot, text="东侧法兰泄漏，有火苗", confirm="1")
    assert answer.status_code == 200 and "已发起应急" in answer.text
    drain()
    e = Emergency.get()
    assert (e.area.name, e.text, e.drill, e.raised_by.wecom_userid) == ("3#罐区", "东侧法兰泄漏，有火苗", False, "jianghan")
    assert {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"suspended"}
    assert AuditEvent.get(AuditEvent.action == "emergency").data["door"] == "board"
    for account in ON_PERMITS:
        assert world.phone.open_card(account, f"alarm-{e.alarm_id}-") is not None
    # Someone of the plant who is not on the permits, but proved present at the site, may report too.
    _, answer = sos(world, "lvming", roof, text="西侧也有烟", confirm="1")
    assert answer.status_code == 200 and "您的报告已并入" in answer.text
    assert Emergency.select().count() == 1 and "吕明（3#罐区）：西侧也有烟" in Emergency.get().text


@BOTH
def test_the_area_board_raises_an_emergency_through_the_same_oauth_proof_and_rules(world):
    import requests
    from handlers.web.area_board import url as area_url
    from models import AuditEvent
    from models.area import Area
    drain = world.drain
    clock = Clock(MORNING - timedelta(hours=2))
    hot, roof = running_at("hot_work", "3#罐区 东侧管廊", clock), running_at("height", "3#罐区 罐顶", clock)
    drain()
    code = area_url(Area.get(Area.name == "3#罐区"))
    # On the tablet's own browser the board offers to confirm who is there first, not the form.
    tablet = requests.get(code, timeout=10)
    assert tablet.status_code == 200 and 'id="sos-scan"' in tablet.text and "emergency?" not in tablet.text

    page, answer = sos_at(world, "jianghan", code, text="东侧法兰泄漏")                # not confirmed
    assert "一键应急" in page.text and "蒋焊" in page.text and 'name="drill"' not in page.text
    assert answer.status_code == 400 and "请勾选确认" in answer.text
    _, answer = sos_at(world, "jianghan", code, text="东侧法兰泄漏", confirm="1", drill="1")
    assert answer.status_code == 403 and "演练须由安全员或应急救援人员发起" in answer.text
    # The proof is bound to this area's page: a phone that scanned a permit's code has none here.
    browser, _ = world.phone.open_code("jianghan", world.phone.site_code(hot.no))
    posted = browser.post(code.replace("?a=", "/emergency?a="), data={"text": "泄漏", "confirm": "1"},
                          headers={"Origin": world.app}, timeout=10)
    assert posted.status_code == 403 and "请重新扫码" in posted.text
    assert Emergency.select().count() == 0 and {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"in_progress"}

    page, _ = sos_at(world, "sunli", code)                  # the area's safety officer may run a drill
    assert 'name="drill"' in page.text
    _, answer = sos_at(world, "lvming", code, text="罐区东侧有明火", confirm="1")
    assert answer.status_code == 200 and "已发起应急" in answer.text
    drain()
    e = Emergency.get()
    assert (e.area.name, e.text, e.drill, e.raised_by.wecom_userid) == ("3#罐区", "罐区东侧有明火", False, "lvming")
    assert {Permit.get_by_id(p.id).state for p in (hot, roof)} == {"suspended"}
    assert AuditEvent.get(AuditEvent.action == "emergency").data["door"] == "board"
    for account in ON_PERMITS:
        assert world.phone.open_card(account, f"alarm-{e.alarm_id}-") is not None
    assert 'data-emergency="1"' in requests.get(code, timeout=10).text      # the tablet shows it at once
