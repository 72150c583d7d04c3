"""WeCom through the robot's long connection, on the real path: socket -> dispatch -> database -> rq -> socket."""
from __future__ import annotations

import pytest
import requests

from handlers.demo.scripted import take_through
from models import AuditEvent, Signature
from models.permit import Permit
from tests.test_wecom_real_path import apply_text, cards_of
from tests.worlds import world as a_world
from workflow import audit


@pytest.fixture
def ws_world(request, plant, monkeypatch, redis_conn):
    with a_world(getattr(request, "param", "wecom_ws"), plant=plant, monkeypatch=monkeypatch,
                 redis_conn=redis_conn) as w:
        yield w


def applied(w) -> tuple[Permit, dict]:
    from models import Person
    for person in Person.select():   # a mixed phone learns where each person's account lives
        if person.wecom_userid:
            w.phone.account(person)
    w.phone.text("zhuyan", apply_text())
    w.drain()
    permit = Permit.get()
    return permit, w.phone.open_card("zhengji", f"{permit.no}-plan-")


def received(w, cmd: str) -> list[dict]:
    return [r for r in requests.get(f"{w.wecom}/sandbox/ws", timeout=5).json()["received"]
            if r["frame"].get("cmd") == cmd]


@pytest.mark.parametrize("ws_world", ["wecom_ws", "mixed_ws"], indirect=True)
def test_a_hot_work_permit_goes_from_chat_to_close_over_the_long_connection(ws_world):
    w = ws_world
    permit, plan_card = applied(w)
    assert permit.state == "in_approval"
    assert w.phone.buttons(plan_card) == ["确认", "退回修改"]
    permit = take_through(w.phone, permit.no, w.drain, say=lambda _: None)
    assert permit.state == "closed"
    assert audit.verify().ok
    channels = {s.channel for s in Signature.select()}
    assert "wecom_ws" in channels and channels <= {"wecom_ws", "dingtalk"}
    # The clicked planner card was replaced in place through the click's req_id, within the window.
    settled = cards_of(w.phone, "zhengji", permit.no)[0]
    assert not settled["state"]["interactive"]
    assert settled["updates"][0]["via"] == "ws"
    updates = received(w, "aibot_respond_update_msg")
    assert updates and all(u["answer"]["errcode"] == 0 for u in updates)
    if w.platform == "wecom_ws":
        assert channels == {"wecom_ws"}


def test_a_redelivered_click_frame_is_applied_once(ws_world):
    w = ws_world
    permit, card = applied(w)
    w.phone.click("zhengji", card, repeat=3)
    w.drain()
    assert Signature.select().where(Signature.decision == "confirm").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 0


def test_a_socket_dropped_mid_card_loses_nothing_and_doubles_nothing(ws_world):
    w = ws_world
    permit, card = applied(w)
    # The socket drops as the clicked card's update arrives: the update is lost with it.
    requests.post(f"{w.wecom}/sandbox/ws/faults", json={"drop_on": "aibot_respond_update_msg"}, timeout=5)
    w.phone.click("zhengji", card)
    w.drain()
    # The connection comes back by itself; the outbox sends what was not delivered.
    deadline_ok = requests.get(f"{w.wecom}/sandbox/ws", timeout=5).json()
    assert deadline_ok["closed"] and "dropped mid-card" in (deadline_ok["closed"][0]["reason"] or "")
    import time
    end = time.monotonic() + 10
    while not requests.get(f"{w.wecom}/sandbox/ws", timeout=5).json()["connected"] and time.monotonic() < end:
        time.sleep(0.05)
    from jobs.delivery import due_rows
    from models import Outbox
    Outbox.update(lease_until=None).where(Outbox.state.in_(["pending", "sending"])).execute()   # backoff over
    w.drain()
    assert Signature.select().where(Signature.decision == "confirm").count() == 1
    permit = Permit.get()
    assert permit.state == "in_approval"
    # The planner still learns the outcome (a new card once the click's window had closed), exactly once.
    outcome = [m for m in cards_of(w.phone, "zhengji", permit.no) if "-u" in (m.get("task_id") or "")
               or m["updates"]]
    assert len(outcome) == 1
    assert not due_rows()


def test_bad_frames_are_refused_and_the_connection_lives(ws_world, caplog):
    w = ws_world
    permit, card = applied(w)
    before = Signature.select().count()
    # A frame with a cmd nobody knows.
    requests.post(f"{w.wecom}/sandbox/ws/raw", json={"cmd": "aibot_mystery", "headers": {"req_id": "x"}}, timeout=5)
    # A click on a card we never sent.
    forged = {"cmd": "aibot_event_callback", "headers": {"req_id": "aibot_event_callback_1_forged"},
              "body": {"msgid": "forged-1", "create_time": 1, "aibotid": "aibsandbox01", "chattype": "single",
                       "from": {"userid": "zhengji"}, "msgtype": "event", "event": {
                           "eventtype": "template_card_event", "template_card_event": {
                               "card_type": "button_interaction", "event_key": card["state"]["card"]["button_list"][0]["key"],
                               "task_id": "never-sent-card"}}}}
    requests.post(f"{w.wecom}/sandbox/ws/raw", json=forged, timeout=5)
    assert w.ws.wait_handled({"forged-1"})
    assert Signature.select().count() == before
    assert "unknown cmd" in caplog.text and "never sent" in caplog.text
    # The same req_id answered twice: the second answer is refused by WeCom and changes nothing.
    w.phone.click("zhengji", card)
    w.drain()
    from bot.registry import channel
    from bot.base import PlatformError
    req_id = received(w, "aibot_respond_update_msg")[-1]["frame"]["headers"]["req_id"]
    with pytest.raises(PlatformError) as refused:
        channel("wecom_ws").bridge.call("aibot_respond_update_msg", {
            "response_type": "update_template_card", "template_card": {"card_type": "text_notice"}}, req_id=req_id)
    assert refused.value.code == 846606
    assert requests.get(f"{w.wecom}/sandbox/ws", timeout=5).json()["connected"]


def test_a_socket_closed_by_the_server_with_a_reason_is_reported_and_reconnected(ws_world, redis_conn):
    w = ws_world
    requests.post(f"{w.wecom}/sandbox/ws/drop", json={"code": 4001, "reason": "维护中"}, timeout=5)
    import time
    end = time.monotonic() + 10
    while w.ws.connections < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert w.ws.connections == 2
    from jobs.connection import redis
    status = redis().hgetall("ws:wecom:status")
    assert b"4001" in status[b"last_close"] and "维护中".encode() in status[b"last_close"]
    assert float(redis().get("ws:wecom:heartbeat")) > 0
    # The operator sees it on /readyz: the socket is back (fresh heartbeat), and why it last went away.
    ready = requests.get(f"{w.app}/readyz", timeout=5).json()
    assert ready["checks"]["socket:wecom"] == "ok" and ready["checks"]["token:wecom_ws"] == "ok"
    assert "4001" in ready["wecom_ws"]["last_close"] and "维护中" in ready["wecom_ws"]["last_close"]
    assert ready["wecom_ws"]["state"] == "connected"


def test_a_second_process_for_the_same_robot_waits(ws_world, caplog):
    from bot.wecom_ws import WsConnection
    from jobs.connection import redis
    from jobs.scheduler import LeaderLock
    import settings
    import time
    conf = settings.current().wecom_ws
    second = WsConnection(bot_id=conf.bot_id, secret=conf.secret, url=conf.ws_url, redis=redis(),
                          lock=LeaderLock(redis(), key=f"ws:wecom:leader:{conf.bot_id}", ttl=20.0),
                          on_event=lambda e: "x")
    second.start()
    end = time.monotonic() + 5
    while "waits to take over" not in caplog.text and time.monotonic() < end:
        time.sleep(0.05)
    second.stop()
    assert "waits to take over" in caplog.text
    assert second.connections == 0 and ws_world.ws.connections == 1
    assert requests.get(f"{ws_world.wecom}/sandbox/ws", timeout=5).json()["closed"] == []
