"""Stream mode against the sandbox's gateway: clicks and messages reach on_event once, ACKed after it returns."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from bot.dingtalk import DingTalkAdapter
from bot.dingtalk_stream import StreamConnection
from tests.bot.test_dingtalk_adapter import APP_KEY, APP_SECRET, CORP_ID, TEMPLATE, USERS, permit_card

WAIT = 10.0   # the longest any condition below may take to become true; never a measured duration


def wait_until(condition, what: str):
    """Poll condition until it holds; fail naming what did not happen."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"gave up waiting: {what}")


def admin(base: str, method: str, path: str, **kwargs):
    res = requests.request(method, base + path, timeout=WAIT + 5, **kwargs)
    res.raise_for_status()
    return res.json()


def gateway(base: str) -> dict:
    return admin(base, "GET", "/sandbox/stream")


@pytest.fixture
def sandbox():
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    app = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=CORP_ID, robot_code=APP_KEY,
                                  card_template_id=TEMPLATE, users=USERS)
    base, stop = run_dingtalk_sandbox(app)
    admin(base, "POST", "/sandbox/config", json={"retry_delay": 0})
    yield base
    stop()


@pytest.fixture
def adapter(redis_conn, key_prefix, sandbox):
    return DingTalkAdapter(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=CORP_ID, robot_code=APP_KEY,
                           card_template_id=TEMPLATE, redis=redis_conn, key_prefix=key_prefix,
                           api_base=sandbox, oapi_base=sandbox, timeout=5.0)


class Recorder:
    """An on_event that records every event, answers with a card update, and can be made to fail or wait."""

    def __init__(self):
        self.events, self.lock = [], threading.Lock()
        self.fail_next = 0
        self.hold: threading.Event | None = None
        self.held = threading.Event()

    def __call__(self, event):
        with self.lock:
            self.events.append(event)
            failing = self.fail_next > 0
            self.fail_next -= failing
            hold, self.hold = self.hold, None
        if hold is not None:
            self.held.set()
            hold.wait(WAIT)
        if failing:
            raise RuntimeError("database is down")
        if event.kind == "click":
            return {"cardData": {"cardParamMap": {"status": "settled", "notice": f"{event.user_id} 已处理"}},
                    "cardUpdateOptions": {"updateCardDataByKey": True}}
        return None


@pytest.fixture
def stream(adapter, sandbox):
    """Yield (recorder, connection) with the connection up and subscribed; stopped afterwards."""
    recorder = Recorder()
    connection = StreamConnection(adapter, on_event=recorder, api_base=sandbox, backoff=(0.01, 0.05))
    connection.start()
    wait_until(lambda: gateway(sandbox)["connections"], "the stream connection to open")
    yield recorder, connection
    connection.stop()
    assert not connection.running


def send_card(adapter, user="zhangsan") -> str:
    card = permit_card()
    adapter.send_card(user, card)
    return card["outTrackId"]


def click(base: str, track: str, user="zhangsan", key="permit.approve:HW-1:s3") -> dict:
    return admin(base, "POST", "/sandbox/click", json={"user": user, "task_id": track, "key": key})


def frame(base: str, mid: str) -> dict:
    snap = gateway(base)
    return next(f for f in snap["delivered"] + snap["pending"] + snap.get("failed", []) if f["messageId"] == mid)


def test_a_click_reaches_on_event_once_and_is_acked_with_its_card_update(stream, adapter, sandbox):
    recorder, _ = stream
    track = send_card(adapter)
    answer = click(sandbox, track)
    assert answer["status"] == 200 and answer["applied"].startswith("updated")
    [event] = recorder.events
    assert (event.kind, event.user_id, event.task_id, event.key) == ("click", "zhangsan", track,
                                                                     "permit.approve:HW-1:s3")
    assert event.msg_id == answer["message_id"]
    [message] = admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan"})
    assert message["state"]["card"]["status"] == "settled"   # the ACK's response updated the card


def test_a_robot_text_reaches_on_event_with_its_msg_id(stream, sandbox):
    recorder, _ = stream
    answer = admin(sandbox, "POST", "/sandbox/text", json={"user": "lisi", "content": " 你好 "})
    assert answer["status"] == 200
    [event] = recorder.events
    assert (event.kind, event.user_id, event.text, event.msg_id) == ("text", "lisi", "你好", answer["msg_id"])


def test_a_frame_whose_data_is_not_json_gets_400_and_the_connection_survives(stream, adapter, sandbox):
    recorder, connection = stream
    mid = admin(sandbox, "POST", "/sandbox/stream/malformed")["message_id"]
    bad = wait_until(lambda: frame(sandbox, mid)["acks"], "the malformed frame to be ACKed")
    assert [a["code"] for a in bad] == [400] and recorder.events == []
    assert click(sandbox, send_card(adapter))["status"] == 200
    assert connection.connections == 1 and gateway(sandbox)["closed"] == []


def test_a_frame_on_event_could_not_keep_is_acked_500_and_never_sent_again(stream, adapter, sandbox):
    """DingTalk does not resend a CALLBACK frame: the 500 is logged, and the frame is gone."""
    recorder, _ = stream
    recorder.fail_next = 1
    answer = click(sandbox, send_card(adapter))
    assert answer["status"] == "lost" and [a["code"] for a in answer["acks"]] == [500]
    assert [e.msg_id for e in recorder.events] == [answer["message_id"]]
    assert len(frame(sandbox, answer["message_id"])["attempts"]) == 1 and gateway(sandbox)["pending"] == []


def test_a_drop_before_the_ack_loses_the_frame_and_nothing_is_sent_again(stream, adapter, sandbox):
    """The ACK dies with the connection; the gateway does not deliver the frame again on the next one."""
    recorder, connection = stream
    track = send_card(adapter)
    gate = recorder.hold = threading.Event()
    result: dict = {}
    clicker = threading.Thread(target=lambda: result.update(click(sandbox, track)))
    clicker.start()
    try:
        assert recorder.held.wait(WAIT), "on_event was never called"
        assert admin(sandbox, "POST", "/sandbox/stream/drop")["dropped"] == 1
        wait_until(lambda: connection.connections == 2, "the client reconnected")
    finally:
        gate.set()   # the held on_event returns; its ACK goes nowhere, its connection is gone
        clicker.join(WAIT + 5)
    assert len(recorder.events) == 1 and result["status"] == "lost"
    lost = frame(sandbox, result["message_id"])
    assert len(lost["attempts"]) == 1 and lost["acks"] == [] and gateway(sandbox)["pending"] == []


def test_a_disconnect_frame_makes_the_client_reconnect(stream, adapter, sandbox):
    recorder, connection = stream
    assert admin(sandbox, "POST", "/sandbox/stream/disconnect")["disconnected"] == 1
    wait_until(lambda: connection.connections == 2 and len(gateway(sandbox)["connections"]) == 1,
               "a new connection after the disconnect frame")
    assert click(sandbox, send_card(adapter))["status"] == 200
    assert len(recorder.events) == 1
    disconnects = [s for s in gateway(sandbox)["system"] if s["topic"] == "disconnect"]
    assert [a["code"] for a in disconnects[0]["acks"]] == [200]


def test_a_ping_is_answered_with_its_own_data(stream, sandbox):
    assert admin(sandbox, "POST", "/sandbox/stream/ping")["pinged"] == 1
    ping = wait_until(lambda: next((s for s in gateway(sandbox)["system"] if s["topic"] == "ping" and s["acks"]),
                                   None), "the ping's answer")
    [answer] = ping["acks"]
    assert answer["code"] == 200 and answer["data"] == ping["data"]


def test_stop_closes_the_connection_and_the_thread(adapter, sandbox):
    connection = StreamConnection(adapter, on_event=Recorder(), api_base=sandbox, backoff=(0.01, 0.05))
    connection.start()
    wait_until(lambda: gateway(sandbox)["connections"], "the stream connection to open")
    connection.stop()
    assert not connection.running
    wait_until(lambda: gateway(sandbox)["connections"] == [], "the gateway to see the connection closed")


def test_wrong_credentials_keep_retrying_with_backoff_until_stopped(redis_conn, key_prefix, sandbox):
    wrong = DingTalkAdapter(app_key=APP_KEY, app_secret="not-the-secret", corp_id=CORP_ID, robot_code=APP_KEY,
                            card_template_id=TEMPLATE, redis=redis_conn, key_prefix=key_prefix, api_base=sandbox)
    connection = StreamConnection(wrong, on_event=Recorder(), api_base=sandbox, backoff=(0.01, 0.05))
    connection.start()
    wait_until(lambda: admin(sandbox, "GET", "/sandbox/stats").get("connections/open", 0) >= 3,
               "several refused attempts to open a connection")
    connection.stop()
    assert not connection.running and connection.connections == 0


def test_an_open_connection_keeps_its_heartbeat_in_redis_and_a_closed_one_lets_it_lapse(adapter, sandbox, redis_conn):
    from bot.dingtalk_stream import HEARTBEAT_KEY, HEARTBEAT_TTL
    redis_conn.delete(HEARTBEAT_KEY)
    connection = StreamConnection(adapter, on_event=Recorder(), api_base=sandbox, backoff=(0.01, 0.05))
    connection.start()
    try:
        wait_until(lambda: redis_conn.get(HEARTBEAT_KEY) is not None, "a heartbeat once connected")
        beat = float(redis_conn.get(HEARTBEAT_KEY))
        assert abs(beat - time.time()) < HEARTBEAT_TTL
        assert 0 < redis_conn.ttl(HEARTBEAT_KEY) <= HEARTBEAT_TTL   # it lapses unless the socket renews it
    finally:
        connection.stop()
