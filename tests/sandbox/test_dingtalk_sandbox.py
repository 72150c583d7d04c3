"""The DingTalk sandbox, driven by the real SDKs over loopback HTTP and by websocket clients on its Stream gateway."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from alibabacloud_dingtalk.card_1_0 import client as card_client, models as card_models
from alibabacloud_dingtalk.oauth2_1_0 import client as oauth2_client, models as oauth2_models
from alibabacloud_dingtalk.robot_1_0 import client as robot_client, models as robot_models
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from dingtalk import AppKeyClient
from dingtalk.core.exceptions import DingTalkClientException
from dingtalk.crypto import DingTalkCrypto
from dingtalk_stream import AckMessage, CallbackHandler, Credential, DingTalkStreamClient
from flask import Flask, request
from Tea.exceptions import TeaException
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from sandbox.dingtalk import (CARD_TOPIC, ROBOT_TOPIC, create_dingtalk_sandbox, dingtalk_sandbox_state,
                              run_dingtalk_sandbox)
from sandbox.server import run_in_thread

APP_KEY, SECRET, CORP = "dingsandboxkey", "sandbox-app-secret", "dingcorp0123456789"
EVENT_TOKEN, EVENT_AES = "eventtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MEMBERS = ["zhangsan", "lisi", "wangwu"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SUBSCRIPTIONS = [{"type": "CALLBACK", "topic": CARD_TOPIC}, {"type": "CALLBACK", "topic": ROBOT_TOPIC}]


class Clock:
    """The platform's clock: real time plus an offset the test moves."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(clock):
    app = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=SECRET, corp_id=CORP, robot_code=APP_KEY,
                                  users=MEMBERS, names={"zhangsan": "张三"})
    app.config["SANDBOX_NOW"] = clock
    return app


@pytest.fixture
def sandbox(app):
    base, stop = run_dingtalk_sandbox(app)
    yield base
    stop()


def admin(base, method, path, **kwargs):
    answer = requests.request(method, base + path, timeout=15, **kwargs)
    return answer.status_code, answer.json()


def until(predicate, timeout: float = 5.0):
    """Poll predicate until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met")


def config(base):
    return open_api_models.Config(protocol="http", endpoint=base.removeprefix("http://"))


def new_token(base) -> str:
    request_ = oauth2_models.GetAccessTokenRequest(app_key=APP_KEY, app_secret=SECRET)
    return oauth2_client.Client(config(base)).get_access_token(request_).body.access_token


def card_params(**extra) -> dict:
    params = {"kind": "sign", "title": "动火作业 DH-0001", "subtitle": "作业计划", "notice": "请确认",
              "emphasis": "", "urgent": "false", "status": "open", "url": "http://127.0.0.1/board",
              "fields": json.dumps([{"name": "编号", "value": "DH-0001"}], ensure_ascii=False),
              "buttons": json.dumps([{"id": "permit.approve:DH-0001:plan", "text": "同意", "style": "primary"},
                                     {"id": "permit.reject:DH-0001:plan", "text": "驳回", "style": "danger"}],
                                    ensure_ascii=False),
              "checklist": json.dumps([{"id": "o1", "text": "已清理可燃物"}, {"id": "o2", "text": "已备灭火器"}],
                                      ensure_ascii=False), "checklist_key": "jsa"}
    params.update(extra)
    return params


def deliver_card(base, token, *, track="DH-0001-plan", user="zhangsan", robot=APP_KEY, params=None):
    req = card_models.CreateAndDeliverRequest(
        card_template_id="permit-card.schema", out_track_id=track, callback_type="STREAM",
        card_data=card_models.CreateAndDeliverRequestCardData(card_param_map=params or card_params()),
        open_space_id=f"dtv1.card//IM_ROBOT.{user}", user_id_type=1,
        im_robot_open_deliver_model=card_models.CreateAndDeliverRequestImRobotOpenDeliverModel(
            space_type="IM_ROBOT", robot_code=robot))
    headers = card_models.CreateAndDeliverHeaders(x_acs_dingtalk_access_token=token)
    return card_client.Client(config(base)).create_and_deliver_with_options(
        req, headers, util_models.RuntimeOptions()).body.to_map()


def update_card(base, token, track, params, *, by_key=True):
    req = card_models.UpdateCardRequest(
        out_track_id=track, card_data=card_models.UpdateCardRequestCardData(card_param_map=params),
        card_update_options=card_models.UpdateCardRequestCardUpdateOptions(update_card_data_by_key=by_key))
    return card_client.Client(config(base)).update_card_with_options(
        req, card_models.UpdateCardHeaders(x_acs_dingtalk_access_token=token), util_models.RuntimeOptions()).body


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


def cards_of(base, user):
    return [m for m in admin(base, "GET", "/sandbox/messages", params={"user": user})[1]
            if m["msgtype"] == "interactive_card"]


# -- classic oapi with dingtalk-sdk ---------------------------------------------------------------
def test_classic_token_and_media_upload_through_dingtalk_sdk(sandbox):
    client = AppKeyClient(CORP, APP_KEY, SECRET, auto_retry=False)
    client.API_BASE_URL = sandbox + "/"
    first = client.get_access_token()
    again = client.get_access_token()
    assert first["errcode"] == 0 and again["access_token"] == first["access_token"]
    assert 0 < again["expires_in"] <= 7200

    uploaded = client.message.media_upload("file", ("台账.xlsx", io.BytesIO(b"PK\x03\x04 workbook")))
    assert uploaded["media_id"] and uploaded["type"] == "file"
    stored = requests.get(f"{sandbox}/sandbox/dingtalk-media/{uploaded['media_id']}", timeout=5)
    assert stored.content == b"PK\x03\x04 workbook"

    wrong = AppKeyClient(CORP, APP_KEY, "not-the-secret", auto_retry=False)
    wrong.API_BASE_URL = sandbox + "/"
    with pytest.raises(DingTalkClientException) as caught:
        wrong.message.media_upload("file", io.BytesIO(b"x"))
    assert caught.value.errcode == 40089


def test_oapi_token_errors_and_oversized_media(app):
    web = app.test_client()
    assert web.post("/media/upload?access_token=nope&type=file").json["errcode"] == 40014
    token = web.get("/gettoken", query_string={"appkey": APP_KEY, "appsecret": SECRET}).json["access_token"]
    big = io.BytesIO(b"\x00" * ((20 << 20) + 1))
    answer = web.post(f"/media/upload?access_token={token}&type=file", data={"media": (big, "big.bin")}).json
    assert answer["errcode"] == 40004
    dingtalk_sandbox_state(app).revoke_tokens()
    assert web.post(f"/media/upload?access_token={token}&type=file").json["errcode"] == 42001
    new = web.post("/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": SECRET}).json["accessToken"]
    assert web.post("/media/upload?access_token=" + new).json["errcode"] == 40014  # the kinds are kept apart


# -- new API: cards -------------------------------------------------------------------------------
def test_card_is_delivered_as_decoded_state_and_updated_in_place(sandbox):
    token = new_token(sandbox)
    body = deliver_card(sandbox, token)
    assert body["success"] is True
    result = body["result"]["deliverResults"][0]
    assert result["success"] is True and result["spaceId"] == "zhangsan" and result["carrierId"]

    [entry] = cards_of(sandbox, "zhangsan")
    assert entry["task_id"] == "DH-0001-plan" and entry["direction"] == "to_user"
    card = entry["state"]["card"]
    assert card["fields"] == [{"name": "编号", "value": "DH-0001"}]
    assert [b["id"] for b in card["buttons"]] == ["permit.approve:DH-0001:plan", "permit.reject:DH-0001:plan"]
    assert card["urgent"] is False and card["status"] == "open" and entry["state"]["interactive"] is True

    assert update_card(sandbox, token, "DH-0001-plan", {"status": "settled", "notice": "张三 已同意"}).result is True
    [entry] = cards_of(sandbox, "zhangsan")
    assert entry["state"]["card"]["status"] == "settled" and entry["state"]["card"]["title"] == "动火作业 DH-0001"
    assert entry["state"]["interactive"] is False and len(entry["updates"]) == 1

    # Without updateCardDataByKey the map is replaced: a map without kind and title is no card.
    error = tea_error(lambda: update_card(sandbox, token, "DH-0001-plan", {"status": "open"}, by_key=False))
    assert error.code == "param.cardParamMapInvalid"
    assert tea_error(lambda: update_card(sandbox, token, "no-such-card", {"status": "open"})).code == \
        "param.outTrackIdNotExist"


def test_card_requests_the_platform_would_refuse(sandbox):
    token = new_token(sandbox)
    error = tea_error(lambda: deliver_card(sandbox, token, params=card_params(urgent=True)))
    assert error.code == "param.cardParamMapInvalid" and "urgent" in error.message
    assert error.data["statusCode"] == 400
    deliver_card(sandbox, token, track="t-1")
    assert tea_error(lambda: deliver_card(sandbox, token, track="t-1")).code == "param.cardAlreadyExist"
    assert tea_error(lambda: deliver_card(sandbox, token, track="t-2", robot="other")).code == "param.robotCodeInvalid"
    bad_kind = tea_error(lambda: deliver_card(sandbox, token, track="t-3", params=card_params(kind="poll")))
    assert "kind" in bad_kind.message
    bad_buttons = tea_error(lambda: deliver_card(sandbox, token, track="t-4",
                                                 params=card_params(buttons='[{"text": "同意"}]')))
    assert bad_buttons.code == "param.cardParamMapInvalid" and "buttons" in bad_buttons.message

    stranger = deliver_card(sandbox, token, track="t-5", user="nobody")
    assert stranger["success"] is True
    assert stranger["result"]["deliverResults"][0]["success"] is False
    assert "nobody" in stranger["result"]["deliverResults"][0]["errorMsg"]


def test_revoked_or_expired_token_is_401_and_a_fresh_one_works(sandbox, clock):
    token = new_token(sandbox)
    admin(sandbox, "POST", "/sandbox/faults", json={"revoke_tokens": True})
    error = tea_error(lambda: deliver_card(sandbox, token))
    assert error.code == "InvalidAuthentication" and error.data["statusCode"] == 401
    fresh = new_token(sandbox)
    assert fresh != token and deliver_card(sandbox, fresh)["success"] is True
    clock.offset += 7201
    assert tea_error(lambda: deliver_card(sandbox, fresh, track="later")).code == "InvalidAuthentication"


def test_injected_error_fails_once_and_stats_count_calls(sandbox):
    token = new_token(sandbox)
    admin(sandbox, "POST", "/sandbox/faults", json={"api": "createAndDeliver", "status": 429, "code": "Throttling",
                                                    "times": 1})
    error = tea_error(lambda: deliver_card(sandbox, token))
    assert error.code == "Throttling" and cards_of(sandbox, "zhangsan") == []
    assert deliver_card(sandbox, token)["success"] is True
    assert admin(sandbox, "GET", "/sandbox/stats")[1]["createAndDeliver"] == 2


# -- robot messages and flow control ----------------------------------------------------------------
def batch_send(base, token, users, key="sampleText", param=None):
    req = robot_models.BatchSendOTORequest(robot_code=APP_KEY, user_ids=users, msg_key=key,
                                           msg_param=json.dumps(param or {"content": "你好"}, ensure_ascii=False))
    return robot_client.Client(config(base)).batch_send_otowith_options(
        req, robot_models.BatchSendOTOHeaders(x_acs_dingtalk_access_token=token), util_models.RuntimeOptions()).body


def test_flow_controlled_people_are_listed_and_not_reached(sandbox):
    token = new_token(sandbox)
    admin(sandbox, "POST", "/sandbox/faults", json={"flow_control": ["lisi"], "times": 2})
    body = batch_send(sandbox, token, ["zhangsan", "lisi", "ghost"])
    assert body.flow_controlled_staff_id_list == ["lisi"] and body.invalid_staff_id_list == ["ghost"]
    assert body.process_query_key
    texts = admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan"})[1]
    assert [m["content"] for m in texts] == [{"content": "你好"}]
    assert admin(sandbox, "GET", "/sandbox/messages", params={"user": "lisi"})[1] == []

    limited = deliver_card(sandbox, token, user="lisi")
    assert limited["success"] is True
    assert limited["result"]["deliverResults"][0]["success"] is False
    assert "flow control" in limited["result"]["deliverResults"][0]["errorMsg"]
    assert cards_of(sandbox, "lisi") == []
    assert batch_send(sandbox, token, ["lisi"]).flow_controlled_staff_id_list == []   # the two are used up


def test_file_message_needs_an_uploaded_media_id(sandbox):
    token = new_token(sandbox)
    error = tea_error(lambda: batch_send(sandbox, token, ["zhangsan"], "sampleFile",
                                         {"mediaId": "@lAnothing", "fileName": "a.xlsx", "fileType": "xlsx"}))
    assert error.code == "invalidParameter.msgParam"
    client = AppKeyClient(CORP, APP_KEY, SECRET, auto_retry=False)
    client.API_BASE_URL = sandbox + "/"
    media = client.message.media_upload("file", ("a.xlsx", io.BytesIO(b"PK workbook")))["media_id"]
    batch_send(sandbox, token, ["zhangsan"], "sampleFile", {"mediaId": media, "fileName": "a.xlsx", "fileType": "xlsx"})
    [sent] = admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan"})[1]
    assert sent["msgtype"] == "file" and sent["content"]["media_id"] == media


# -- the Stream gateway with the real dingtalk-stream client -------------------------------------
class CardHandler(CallbackHandler):
    def __init__(self):
        super().__init__()
        self.seen = []

    async def process(self, message):
        self.seen.append(message)
        return AckMessage.STATUS_OK, {"cardData": {"cardParamMap": {"status": "settled", "notice": "已同意"}},
                                      "cardUpdateOptions": {"updateCardDataByKey": True}}


@pytest.fixture
def sdk_stream(sandbox, monkeypatch):
    """Run DingTalkStreamClient against the sandbox in a thread; yield its card handler."""
    monkeypatch.setattr(DingTalkStreamClient, "OPEN_CONNECTION_API", sandbox + "/v1.0/gateway/connections/open")
    client, handler = DingTalkStreamClient(Credential(APP_KEY, SECRET)), CardHandler()
    client.register_callback_handler(CARD_TOPIC, handler)
    loop = asyncio.new_event_loop()
    task = loop.create_task(client.start())
    thread = threading.Thread(target=lambda: loop.run_until_complete(asyncio.wait([task])), daemon=True)
    thread.start()
    until(lambda: admin(sandbox, "GET", "/sandbox/stream")[1]["connections"])
    yield handler
    while thread.is_alive():  # the client's loop swallows one cancellation, so cancel until it stops
        loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=0.2)
    leftovers = asyncio.all_tasks(loop)   # the SDK's keepalive tasks are fire-and-forget
    for leftover in leftovers:
        leftover.cancel()
    # In a thread of its own: the main thread may hold a running loop already (Playwright's, from the
    # browser tests of the same session), and a second one cannot run there.
    cleanup = threading.Thread(target=lambda: loop.run_until_complete(
        asyncio.gather(*leftovers, return_exceptions=True)))
    cleanup.start()
    cleanup.join(timeout=10)
    loop.close()


def test_click_reaches_the_sdk_and_its_ack_updates_the_card(sandbox, sdk_stream):
    deliver_card(sandbox, new_token(sandbox))
    status, answer = admin(sandbox, "POST", "/sandbox/click", json={
        "user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.approve:DH-0001:plan", "selected": ["o1"]})
    assert status == 200 and answer["status"] == 200 and answer["applied"].startswith("updated")
    [message] = sdk_stream.seen
    assert message.headers.message_id == answer["message_id"] and message.headers.topic == CARD_TOPIC
    data = message.data
    assert data["outTrackId"] == "DH-0001-plan" and data["userId"] == "zhangsan" and data["type"] == "actionCallback"
    params = json.loads(data["content"])["cardPrivateData"]["params"]
    assert params == {"action": "permit.approve:DH-0001:plan", "checklist": {"index": [0]}}
    [entry] = cards_of(sandbox, "zhangsan")
    assert entry["state"]["card"]["status"] == "settled" and entry["state"]["interactive"] is False
    assert entry["clicks"][0]["key"] == "permit.approve:DH-0001:plan"

    status, refused = admin(sandbox, "POST", "/sandbox/click", json={
        "user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.approve:DH-0001:plan"})
    assert status == 400 and "no longer clickable" in refused["error"]
    stream = admin(sandbox, "GET", "/sandbox/stream")[1]
    assert [f["messageId"] for f in stream["delivered"]] == [answer["message_id"]]


def test_sdk_answers_ping_and_reconnects_after_disconnect(sandbox, sdk_stream):
    before = admin(sandbox, "GET", "/sandbox/stream")[1]["connections"][0]["connectionId"]
    assert admin(sandbox, "POST", "/sandbox/stream/ping")[1] == {"pinged": 1}
    [ping] = until(lambda: [s for s in admin(sandbox, "GET", "/sandbox/stream")[1]["system"] if s["acks"]])
    assert ping["topic"] == "ping" and ping["acks"][0]["code"] == 200
    assert json.loads(ping["acks"][0]["data"]) == json.loads(ping["data"])   # the SDK echoes the opaque data
    assert admin(sandbox, "POST", "/sandbox/stream/disconnect")[1] == {"disconnected": 1}
    after = until(lambda: [c for c in admin(sandbox, "GET", "/sandbox/stream")[1]["connections"]
                           if c["connectionId"] != before])
    assert after and any(c["connectionId"] == before for c in admin(sandbox, "GET", "/sandbox/stream")[1]["closed"])


def test_click_checks_what_a_real_client_could_do(sandbox):
    deliver_card(sandbox, new_token(sandbox))
    click = {"user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.delete:everything"}
    status, answer = admin(sandbox, "POST", "/sandbox/click", json=click)
    assert status == 400 and "no button" in answer["error"]
    status, answer = admin(sandbox, "POST", "/sandbox/click", json={**click, "user": "lisi"})
    assert status == 400 and "never received" in answer["error"]
    status, answer = admin(sandbox, "POST", "/sandbox/click", json={**click, "key": "permit.approve:DH-0001:plan"})
    assert status == 200 and answer["status"] == "pending"   # nobody is connected: the frame waits


# -- the gateway's rules, with a plain websocket client ---------------------------------------------
def open_stream(base, subscriptions=SUBSCRIPTIONS):
    status, body = admin(base, "POST", "/v1.0/gateway/connections/open", json={
        "clientId": APP_KEY, "clientSecret": SECRET, "subscriptions": subscriptions, "ua": "test", "localIp": ""})
    assert status == 200, body
    known = {c["connectionId"] for c in admin(base, "GET", "/sandbox/stream")[1]["connections"]}
    ws = connect(f"{body['endpoint']}?ticket={body['ticket']}")
    # The client's handshake can finish before the gateway registers the connection.
    until(lambda: {c["connectionId"] for c in admin(base, "GET", "/sandbox/stream")[1]["connections"]} - known)
    return ws


def ack(ws, frame, code=200, response=None):
    ws.send(json.dumps({"code": code, "headers": {"messageId": frame["headers"]["messageId"],
                                                  "contentType": "application/json"},
                        "message": "", "data": json.dumps({"response": response})}))


def recv(ws) -> dict:
    frame = json.loads(ws.recv(timeout=5))
    while frame["type"] == "SYSTEM":   # pings are answered by the SDK; here they are skipped
        frame = json.loads(ws.recv(timeout=5))
    return frame


def post_text(base, content="帮助"):
    return requests.post(base + "/sandbox/text", json={"user": "zhangsan", "content": content}, timeout=15).json()


def test_gateway_refuses_wrong_credentials_and_bad_or_used_tickets(sandbox):
    status, body = admin(sandbox, "POST", "/v1.0/gateway/connections/open",
                         json={"clientId": APP_KEY, "clientSecret": "wrong", "subscriptions": SUBSCRIPTIONS})
    assert status == 400 and body["code"] == "invalidClientIdOrSecret"
    status, body = admin(sandbox, "POST", "/v1.0/gateway/connections/open",
                         json={"clientId": APP_KEY, "clientSecret": SECRET, "subscriptions": SUBSCRIPTIONS})
    with connect(f"{body['endpoint']}?ticket=forged") as ws, pytest.raises(ConnectionClosed) as caught:
        ws.recv(timeout=5)
    assert caught.value.rcvd.code == 1008
    with connect(f"{body['endpoint']}?ticket={body['ticket']}"):
        pass
    # The gateway takes the ticket in its handler, after the handshake: reused before that handler ran,
    # the ticket would still be there.
    until(lambda: stream_state(sandbox)["closed"])
    with connect(f"{body['endpoint']}?ticket={body['ticket']}") as ws, pytest.raises(ConnectionClosed) as caught:
        ws.recv(timeout=5)
    assert caught.value.rcvd.code == 1008


def stream_state(sandbox) -> dict:
    return admin(sandbox, "GET", "/sandbox/stream")[1]


def test_a_callback_frame_dropped_before_its_ack_is_never_sent_again(sandbox, app):
    """DingTalk does not resend CALLBACK frames: the next connection gets nothing, the frame is lost."""
    app.config["SANDBOX_CLICK_WAIT"] = 0
    with open_stream(sandbox) as first:
        sent = post_text(sandbox, "作业 DH-0001")
        frame = recv(first)
        assert admin(sandbox, "POST", "/sandbox/stream/drop")[1] == {"dropped": 1}
        with pytest.raises(ConnectionClosed):
            first.recv(timeout=5)
    assert frame["headers"]["topic"] == ROBOT_TOPIC and frame["headers"]["messageId"] == sent["message_id"]
    data = json.loads(frame["data"])
    assert data["senderStaffId"] == "zhangsan" and data["text"] == {"content": "作业 DH-0001"}
    assert data["robotCode"] == APP_KEY and data["conversationType"] == "1"
    with open_stream(sandbox):
        stream = until(lambda: (s := stream_state(sandbox))["connections"] and s)
    [lost] = stream["failed"]
    assert lost["messageId"] == sent["message_id"] and len(lost["attempts"]) == 1
    assert lost["attempts"][0]["outcome"] == "connection closed before the ACK" and stream["pending"] == []


def test_a_5xx_ack_is_final_and_malformed_acks_are_ignored(sandbox, app):
    app.config["SANDBOX_CLICK_WAIT"] = 0
    admin(sandbox, "POST", "/sandbox/config", json={"retry_delay": 0})
    with open_stream(sandbox) as ws:
        sent = post_text(sandbox)
        frame = recv(ws)
        ws.send("this is not json")
        ws.send(json.dumps({"code": 200, "headers": {}}))
        ack(ws, frame, code=500)
        stream = until(lambda: (s := stream_state(sandbox))["failed"] and len(s["bad_acks"]) == 2 and s)
        assert len(stream["connections"]) == 1   # the malformed ACKs did not cost the connection
    [lost] = stream["failed"]
    assert lost["messageId"] == sent["message_id"] and [a["code"] for a in lost["acks"]] == [500]
    assert len(lost["attempts"]) == 1 and stream["pending"] == []
    assert [b["why"] for b in stream["bad_acks"]] == ["not a JSON ACK with headers.messageId"] * 2


def test_an_unacked_callback_frame_is_lost_after_the_ack_timeout_and_a_late_ack_still_counts(sandbox, app):
    app.config["SANDBOX_CLICK_WAIT"] = 0
    admin(sandbox, "POST", "/sandbox/config", json={"ack_timeout": 0.2, "retry_delay": 0})
    with open_stream(sandbox) as ws:
        sent = post_text(sandbox)
        frame = recv(ws)
        stream = until(lambda: (s := stream_state(sandbox))["failed"] and s)
        assert stream["failed"][0]["attempts"][0]["outcome"].startswith("no ACK within")
        ack(ws, frame)
        stream = until(lambda: (s := stream_state(sandbox))["delivered"] and s)
    [late] = stream["delivered"]
    assert late["messageId"] == sent["message_id"] and len(late["attempts"]) == 1


def test_stream_faults_duplicate_then_drop_after_the_frame(sandbox, app):
    app.config["SANDBOX_CLICK_WAIT"] = 0
    with open_stream(sandbox) as ws:
        assert admin(sandbox, "POST", "/sandbox/stream/faults", json={"duplicate": 1, "drop_after": 1})[0] == 200
        sent = post_text(sandbox)
        one, two = recv(ws), recv(ws)
        assert one == two and one["headers"]["messageId"] == sent["message_id"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    [lost] = until(lambda: stream_state(sandbox)["failed"])
    assert lost["messageId"] == sent["message_id"] and len(lost["attempts"]) == 1
    assert admin(sandbox, "POST", "/sandbox/stream/faults", json={"withhold": -1})[0] == 400


def test_repeat_delivers_the_same_frame_twice_and_a_card_ack_applies_its_response(sandbox):
    deliver_card(sandbox, new_token(sandbox))
    with open_stream(sandbox) as ws:
        answered = {}

        def click():
            answered.update(admin(sandbox, "POST", "/sandbox/click", json={
                "user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.reject:DH-0001:plan", "repeat": 2})[1])
        clicker = threading.Thread(target=click)
        clicker.start()
        one, two = recv(ws), recv(ws)
        assert one == two
        ack(ws, one, response={"cardData": {"cardParamMap": {"status": "settled"}},
                               "cardUpdateOptions": {"updateCardDataByKey": True}})
        ack(ws, two, response={})
        clicker.join(timeout=15)
    assert answered["status"] == 200 and [a["code"] for a in answered["acks"]] == [200, 200]
    [entry] = cards_of(sandbox, "zhangsan")
    assert entry["state"]["card"]["status"] == "settled" and entry["updates"][0]["via"] == "callback"


def test_frames_go_only_to_subscribers_and_a_malformed_frame_is_sent_once(sandbox, app):
    app.config["SANDBOX_CLICK_WAIT"] = 0
    with open_stream(sandbox, [{"type": "CALLBACK", "topic": CARD_TOPIC}]) as ws:
        sent = post_text(sandbox)
        assert sent["status"] == "pending" and "no Stream connection" in sent["why"]
        mid = admin(sandbox, "POST", "/sandbox/stream/malformed")[1]["message_id"]
        frame = recv(ws)
        assert frame["headers"]["messageId"] == mid and frame["data"] == "{not json"
        ack(ws, frame, code=400)
        stream = until(lambda: (s := admin(sandbox, "GET", "/sandbox/stream")[1])["delivered"] and s)
    assert stream["delivered"][0]["acks"][0]["code"] == 400
    assert [f["messageId"] for f in stream["pending"]] == [sent["message_id"]]


# -- HTTP mode and classic events -----------------------------------------------------------------
class Receiver:
    """An app behind the HTTP callback URLs: checks the sign, records bodies, answers as told."""

    def __init__(self):
        self.received, self.reply = [], {}
        self.crypto = DingTalkCrypto(EVENT_TOKEN, EVENT_AES, APP_KEY)
        self.event_reply = "encrypted"
        app = Flask("receiver")

        @app.post("/dingtalk/<kind>")
        def callback(kind):
            if kind == "card":   # signed with the apiSecret registered for the route key
                timestamp = request.headers["x-ddpaas-signature-timestamp"]
                expected = base64.b64encode(hmac.new(ROUTE_SECRET.encode(), timestamp.encode(),
                                                     hashlib.sha256).digest()).decode()
                sign = request.headers["x-ddpaas-signature"]
            else:
                timestamp = request.headers["timestamp"]
                expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                                     hashlib.sha256).digest()).decode()
                sign = request.headers["sign"]
            self.received.append({"kind": kind, "sign_ok": sign == expected, "body": request.get_json()})
            return self.reply

        @app.post("/dingtalk/events")
        def events():
            a = request.args
            plain = self.crypto.decrypt_encrypt_str(a["msg_signature"], a["timestamp"], a["nonce"],
                                                    request.get_json()["encrypt"])
            self.received.append({"kind": "event", "event": json.loads(plain)})
            return self.crypto.encrypt_message("success") if self.event_reply == "encrypted" else "success"

        self.base, self.stop = run_in_thread(app)


@pytest.fixture
def receiver(sandbox):
    r = Receiver()
    admin(sandbox, "POST", "/sandbox/config", json={
        "mode": "http", "card_callback_url": r.base + "/dingtalk/card", "robot_callback_url": r.base + "/dingtalk/robot",
        "event_url": r.base + "/dingtalk/events", "event_token": EVENT_TOKEN, "event_aes_key": EVENT_AES})
    yield r
    r.stop()


ROUTE_SECRET = "route-api-secret"


def test_http_mode_posts_signed_callbacks_and_applies_the_reply(sandbox, receiver):
    token = new_token(sandbox)
    register_route(sandbox, token, callback_route_key="permit", callback_url=receiver.base + "/dingtalk/card",
                   api_secret=ROUTE_SECRET)
    http_card(sandbox, token, "DH-0001-plan", "permit")
    receiver.reply = {"cardData": {"cardParamMap": {"status": "settled"}}, "cardUpdateOptions": {"updateCardDataByKey": True}}
    status, answer = admin(sandbox, "POST", "/sandbox/click", json={
        "user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.approve:DH-0001:plan"})
    assert status == 200 and answer["status"] == 200
    assert cards_of(sandbox, "zhangsan")[0]["state"]["interactive"] is False
    receiver.reply = {}
    post_text(sandbox, "帮助")
    card, robot = receiver.received
    assert card["kind"] == "card" and card["sign_ok"] and card["body"]["outTrackId"] == "DH-0001-plan"
    assert robot["kind"] == "robot" and robot["sign_ok"] and robot["body"]["text"] == {"content": "帮助"}


def test_classic_event_round_trip_checks_the_encrypted_success(sandbox, receiver):
    status, answer = admin(sandbox, "POST", "/sandbox/verify")
    assert status == 200 and answer["reply_ok"] is True
    assert receiver.received[-1]["event"] == {"EventType": "check_url"}
    receiver.event_reply = "plain"
    answer = admin(sandbox, "POST", "/sandbox/event", json={"EventType": "user_add_org", "UserId": ["lisi"]})[1]
    assert answer["reply_ok"] is False and receiver.received[-1]["event"]["UserId"] == ["lisi"]


# -- photos, OAuth, the phone view ----------------------------------------------------------------
def test_photo_from_chat_downloads_through_the_robot_api(sandbox, app):
    app.config["SANDBOX_CLICK_WAIT"] = 0
    sent = requests.post(sandbox + "/sandbox/image", data={"user": "zhangsan"},
                         files={"media": ("site.png", PNG, "image/png")}, timeout=10).json()
    [entry] = admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan", "both": 1})[1]
    assert entry["msgtype"] == "picture" and entry["content"]["downloadCode"] == sent["download_code"]
    client = robot_client.Client(config(sandbox))
    headers = robot_models.RobotMessageFileDownloadHeaders(x_acs_dingtalk_access_token=new_token(sandbox))
    url = client.robot_message_file_download_with_options(
        robot_models.RobotMessageFileDownloadRequest(download_code=sent["download_code"], robot_code=APP_KEY),
        headers, util_models.RuntimeOptions()).body.download_url
    assert requests.get(url, timeout=5).content == PNG
    error = tea_error(lambda: client.robot_message_file_download_with_options(
        robot_models.RobotMessageFileDownloadRequest(download_code="forged", robot_code=APP_KEY),
        headers, util_models.RuntimeOptions()))
    assert error.code == "invalidDownloadCode"


def test_board_check_in_resolves_the_scanner_through_oauth(sandbox):
    board = "http://127.0.0.1:9/board/DH-0001"
    page = {"redirect_uri": board, "response_type": "code", "client_id": APP_KEY, "scope": "openid",
            "state": "s1", "prompt": "consent"}
    outside = requests.get(sandbox + "/oauth2/auth", params=page, timeout=5)
    assert outside.status_code == 403 and "请在钉钉客户端打开链接" in outside.text
    assert requests.get(sandbox + "/oauth2/auth", params={**page, "client_id": "x"}, timeout=5).status_code == 400

    phone = requests.Session()
    auth = f"{sandbox}/oauth2/auth?{urlencode(page)}"
    scanned = phone.get(f"{sandbox}/phone/lisi/scan", params={"url": auth}, allow_redirects=False, timeout=5)
    assert scanned.status_code == 302
    hop = phone.get(scanned.headers["Location"], allow_redirects=False, timeout=5)
    target = urlsplit(hop.headers["Location"])
    query = dict(parse_qsl(target.query))
    assert target.path == "/board/DH-0001" and query["state"] == "s1"

    token = oauth2_client.Client(config(sandbox)).get_user_token(oauth2_models.GetUserTokenRequest(
        client_id=APP_KEY, client_secret=SECRET, code=query["authCode"], grant_type="authorization_code"))
    me = requests.get(sandbox + "/v1.0/contact/users/me", timeout=5,
                      headers={"x-acs-dingtalk-access-token": token.body.access_token}).json()
    client = AppKeyClient(CORP, APP_KEY, SECRET, auto_retry=False)
    client.API_BASE_URL = sandbox + "/"
    assert client.post("/topapi/user/getbyunionid", {"unionid": me["unionId"]})["result"]["userid"] == "lisi"
    reused = tea_error(lambda: oauth2_client.Client(config(sandbox)).get_user_token(oauth2_models.GetUserTokenRequest(
        client_id=APP_KEY, client_secret=SECRET, code=query["authCode"], grant_type="authorization_code")))
    assert reused.code == "invalidAuthCode"
    with pytest.raises(DingTalkClientException) as caught:
        client.post("/topapi/user/getbyunionid", {"unionid": "nobody"})
    assert caught.value.errcode == 60121


def test_phone_view_draws_cards_escaped_in_dingtalk_skin(app):
    web = app.test_client()
    token = web.post("/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": SECRET}).json["accessToken"]
    headers = {"x-acs-dingtalk-access-token": token}
    base = {"cardTemplateId": "permit-card.schema", "callbackType": "STREAM", "userIdType": 1,
            "openSpaceId": "dtv1.card//IM_ROBOT.zhangsan",
            "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": APP_KEY}}
    evil = "<script>alert(1)</script>"
    answer = web.post("/v1.0/card/instances/createAndDeliver", headers=headers, json={
        **base, "outTrackId": "a1", "cardData": {"cardParamMap": card_params(title=evil, kind="alarm", urgent="true")}})
    assert answer.status_code == 200, answer.json
    web.post("/v1.0/card/instances/createAndDeliver", headers=headers, json={
        **base, "outTrackId": "a2", "cardData": {"cardParamMap": card_params(status="settled")}})
    html = web.get("/phone/zhangsan").get_data(as_text=True)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "#007fff" in html and "钉钉" in html
    assert html.count('class="card urgent"') == 1 and html.count('class="card settled"') == 1
    assert html.count('data-key="permit.approve:DH-0001:plan"') == 1   # the settled card has no buttons
    assert 'type="checkbox" value="o1"' in html
    assert "张三" in web.get("/phone").get_data(as_text=True)
    scanned = web.get("/phone/zhangsan/scan", query_string={"url": "javascript:alert(1)"})
    assert scanned.status_code == 400


# -- HTTP-mode card callbacks: the route key, its apiSecret, each card's callbackType -------------------

def register_route(base, token, **fields):
    req = card_models.RegisterCallbackRequest(**fields)
    headers = card_models.RegisterCallbackHeaders(x_acs_dingtalk_access_token=token)
    return card_client.Client(config(base)).register_callback_with_options(
        req, headers, util_models.RuntimeOptions()).body.to_map()


def http_card(base, token, track, route_key):
    req = card_models.CreateAndDeliverRequest(
        card_template_id="permit-card.schema", out_track_id=track, callback_type="HTTP",
        callback_route_key=route_key,
        card_data=card_models.CreateAndDeliverRequestCardData(card_param_map=card_params()),
        open_space_id="dtv1.card//IM_ROBOT.zhangsan", user_id_type=1,
        im_robot_open_deliver_model=card_models.CreateAndDeliverRequestImRobotOpenDeliverModel(
            space_type="IM_ROBOT", robot_code=APP_KEY))
    headers = card_models.CreateAndDeliverHeaders(x_acs_dingtalk_access_token=token)
    return card_client.Client(config(base)).create_and_deliver_with_options(
        req, headers, util_models.RuntimeOptions()).body.to_map()


@pytest.fixture
def card_receiver():
    got: list[dict] = []
    receiver = Flask("card-receiver")

    @receiver.post("/card")
    def card():
        got.append({"headers": {k.lower(): v for k, v in request.headers.items()}, "body": request.get_json()})
        return {}
    base, stop = run_in_thread(receiver)
    yield base, got
    stop()


def test_the_register_api_checks_its_fields_and_keeps_a_key_unless_forced(sandbox):
    token = new_token(sandbox)
    assert tea_error(lambda: register_route(sandbox, token, callback_route_key="rk")).code == \
        "param.callbackUrlEmpty"
    assert tea_error(lambda: register_route(sandbox, token, callback_url="http://127.0.0.1:9/card")).code == \
        "param.callbackRouteKeyEmpty"
    answer = register_route(sandbox, token, callback_route_key="rk", callback_url="http://127.0.0.1:9/a",
                            api_secret="s1")
    assert answer == {"success": True, "result": {"callbackUrl": "http://127.0.0.1:9/a", "apiSecret": "s1"}}
    assert tea_error(lambda: register_route(sandbox, token, callback_route_key="rk",
                                            callback_url="http://127.0.0.1:9/b")).code == "param.callbackRouteKeyExist"
    assert register_route(sandbox, token, callback_route_key="rk", callback_url="http://127.0.0.1:9/b",
                          force_update=True)["success"] is True


def test_each_card_calls_back_by_its_own_callback_type_and_http_ones_are_signed_with_the_api_secret(
        sandbox, card_receiver):
    receiver, got = card_receiver
    token = new_token(sandbox)
    register_route(sandbox, token, callback_route_key="rk", callback_url=f"{receiver}/card", api_secret="s3cret")
    deliver_card(sandbox, token, track="DH-0001-plan")          # STREAM, in a sandbox whose mode is stream
    http_card(sandbox, token, "DH-0001-jsa", "rk")              # HTTP, to the route key
    answer = admin(sandbox, "POST", "/sandbox/click", json={
        "user": "zhangsan", "task_id": "DH-0001-jsa", "key": "permit.approve:DH-0001:plan"})[1]
    assert answer["status"] == 200
    [call] = got
    stamp, signature = call["headers"]["x-ddpaas-signature-timestamp"], call["headers"]["x-ddpaas-signature"]
    assert signature == base64.b64encode(hmac.new(b"s3cret", stamp.encode(), hashlib.sha256).digest()).decode()
    assert "sign" not in call["headers"] and call["body"]["outTrackId"] == "DH-0001-jsa"
    app_config = admin(sandbox, "GET", "/sandbox/config")[1]
    assert app_config["mode"] == "stream"
    stream = admin(sandbox, "POST", "/sandbox/click", json={
        "user": "zhangsan", "task_id": "DH-0001-plan", "key": "permit.approve:DH-0001:plan"})[1]
    assert stream["status"] == "pending" and "Stream" in stream["why"] and len(got) == 1


def test_each_robot_message_goes_the_way_its_robot_receives_when_it_is_sent(sandbox, app, receiver):
    """The receiving mode is the robot's setting (its 消息接收模式), read for each message as it is sent."""
    app.config["SANDBOX_CLICK_WAIT"] = 0
    with open_stream(sandbox) as ws:
        # The robot receives over HTTP: a Stream connection listening for its topic gets nothing.
        over_http = post_text(sandbox, "一")
        assert (over_http["status"], over_http["route"]) == (200, "http")
        assert [r["body"]["text"] for r in receiver.received] == [{"content": "一"}]
        # Set to Stream in the console: the next message takes the socket, and HTTP hears no more.
        admin(sandbox, "POST", "/sandbox/config", json={"mode": "stream"})
        over_stream = post_text(sandbox, "二")
        assert (over_stream["status"], over_stream["route"]) == ("pending", "stream")
        frame = recv(ws)
        assert frame["headers"]["topic"] == "/v1.0/im/bot/messages/get"
        assert json.loads(frame["data"])["text"] == {"content": "二"}
        ack(ws, frame)
    assert len(receiver.received) == 1
    sent = [m for m in admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan", "both": 1})[1]
            if m["direction"] == "from_user"]
    assert [(m["content"]["content"], m["route"]["mode"], m["robot"]) for m in sent] == [
        ("一", "http", APP_KEY), ("二", "stream", APP_KEY)]


def test_a_message_to_no_robot_or_to_one_without_an_address_is_refused_and_not_recorded(sandbox):
    status, answer = admin(sandbox, "POST", "/sandbox/text", json={"user": "zhangsan", "content": "帮助",
                                                                    "robot": "dingotherrobot"})
    assert status == 400 and "dingotherrobot" in answer["error"]
    admin(sandbox, "POST", "/sandbox/config", json={"mode": "http", "robot_callback_url": None})
    status, answer = admin(sandbox, "POST", "/sandbox/text", json={"user": "zhangsan", "content": "帮助"})
    assert status == 400 and "robot_callback_url" in answer["error"]
    assert admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan", "both": 1})[1] == []
    assert admin(sandbox, "GET", "/sandbox/config")[1]["mode"] == "http"
