"""Fuzz DingTalk's doors: HTTP robot and card callbacks with valid signs, and Stream frames."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, strategies as st

from bot.dingtalk_sign import card_api_secret, card_sign, dingtalk_sign
from models import Permit, Signature, Step

from tests.fuzz.conftest import stored
from tests.fuzz.strategies import ACCOUNTS, card_key, chat_text
from tests.worlds import APP_KEY, APP_SECRET, DING_CORP

_stamps = itertools.count(int(time.time() * 1000))   # each sign is spent once: never reuse a timestamp
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=4), max_leaves=12)
ANY = st.one_of(JSON, st.sampled_from(ACCOUNTS))


def signed(topic: str = "robot") -> dict:
    """Sign a callback as DingTalk does for its topic: cards with the registered apiSecret, robots with the AppSecret."""
    stamp = str(next(_stamps))
    if topic == "card":
        return {"x-ddpaas-signature-timestamp": stamp, "x-ddpaas-signature": card_sign(stamp, card_api_secret(APP_SECRET)),
                "Content-Type": "application/json"}
    return {"timestamp": stamp, "sign": dingtalk_sign(stamp, APP_SECRET), "Content-Type": "application/json"}


@st.composite
def card_body(draw) -> dict:
    params = {"action": draw(card_key() | ANY)}
    if draw(st.booleans()):
        params["checklist"] = draw(ANY)
    content = {"cardPrivateData": {"params": params}}
    body = {"corpId": draw(st.just(DING_CORP) | ANY), "userId": draw(ANY), "outTrackId": draw(ANY | st.text()),
            "content": json.dumps(content) if draw(st.booleans()) else draw(st.just(content) | ANY)}
    return {k: v for k, v in body.items() if draw(st.integers(0, 9))}   # now and then a field goes missing


@st.composite
def robot_body(draw) -> dict:
    body = {"chatbotCorpId": draw(st.just(DING_CORP) | ANY), "robotCode": draw(st.just(APP_KEY) | ANY),
            "msgId": draw(st.uuids().map(str) | ANY), "createAt": draw(st.just(int(time.time() * 1000)) | ANY),
            "conversationType": draw(st.sampled_from(["1", "2", 1]) | ANY),
            "senderStaffId": draw(ANY), "msgtype": draw(st.sampled_from(["text", "picture", "file"]) | ANY),
            "text": draw(chat_text().map(lambda t: {"content": t}) | ANY),
            "content": draw(st.just({"downloadCode": "abc"}) | ANY)}
    return {k: v for k, v in body.items() if draw(st.integers(0, 9))}


def check(before: dict, answer) -> None:
    assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
    if answer.status_code >= 400:
        error = answer.get_json()
        assert isinstance(error, dict) and error.get("error") and error.get("code"), error
        assert stored() == before
    after = stored()
    for table in (Permit, Step, Signature):
        assert after[table._meta.table_name] == before[table._meta.table_name]


@given(topic=st.sampled_from(["card", "robot"]), body=st.one_of(card_body(), robot_body(), JSON),
       raw=st.none() | st.binary(max_size=200))
def test_any_signed_http_callback_is_answered_without_a_5xx(fuzz_app, tried, topic, body, raw):
    tried()
    before = stored()
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    check(before, fuzz_app.test_client().post(f"/dingtalk/{topic}", data=data, headers=signed(topic)))


@given(topic=st.sampled_from(["card", "robot"]), headers=st.dictionaries(
    st.sampled_from(["timestamp", "sign", "Timestamp", "x-ddpaas-signature", "x-ddpaas-signature-timestamp"]),
    st.text(max_size=30), max_size=3), body=card_body())
def test_an_unsigned_http_callback_is_refused_and_stores_nothing(fuzz_app, tried, topic, headers, body):
    tried()
    before = stored()
    # What HTTP can carry in a header at all: one line of Latin-1.
    safe = {k: v.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")
            for k, v in headers.items()}
    answer = fuzz_app.test_client().post(f"/dingtalk/{topic}", json=body, headers=safe)
    assert 400 <= answer.status_code < 500 and answer.get_json()["code"]
    assert stored() == before


class Socket:
    """Where the connection writes its ACK frames."""

    def __init__(self):
        self.sent: list[dict] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


@given(topic=st.sampled_from(["/v1.0/card/instances/callback", "/v1.0/im/bot/messages/get", "/other"]),
       data=st.one_of(card_body(), robot_body(), JSON).map(json.dumps) | st.text(max_size=50),
       mid=st.text(max_size=20))
def test_any_stream_frame_is_acknowledged_without_a_500(fuzz_app, tried, topic, data, mid):
    from bot.dingtalk_stream import StreamConnection
    from bot.registry import dingtalk_adapter
    from handlers.web.callbacks import handle_stream_event
    tried()
    before = stored()
    connection = StreamConnection(dingtalk_adapter(), on_event=handle_stream_event, api_base="http://127.0.0.1:9")
    frame = {"specVersion": "1.0", "type": "CALLBACK", "data": data,
             "headers": {"topic": topic, "messageId": mid, "contentType": "application/json"}}
    socket = Socket()
    # A loop of its own in a thread of its own: the browser tests' Playwright keeps one running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, connection._callback(socket, frame)).result()
    [ack] = socket.sent
    assert ack["code"] in (200, 400, 404), ack
    if ack["code"] != 200:
        assert stored() == before
    for table in (Permit, Step, Signature):
        assert stored()[table._meta.table_name] == before[table._meta.table_name]
