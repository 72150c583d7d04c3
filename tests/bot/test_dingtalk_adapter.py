"""The DingTalk adapter: callbacks mapped and verified, and its calls made by the real SDKs to the sandbox."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from dingtalk.crypto import DingTalkCrypto

from bot.base import CallbackRejected, PlatformError, RateLimited
from bot.dingtalk import DingTalkAdapter
from bot.dingtalk_sign import SignRefused, card_api_secret

APP_KEY, APP_SECRET, CORP_ID = "dingappkey0001", "app-secret-of-dingtalk", "dingcorp0001"
TEMPLATE = "permit-card.schema"
EVENT_TOKEN = "eventtoken"
EVENT_AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
USERS = ["zhangsan", "lisi", "wangwu"]
NOW = 1_795_000_000.0   # a fixed clock for the replay-window checks


@pytest.fixture
def make_adapter(redis_conn, key_prefix):
    """Return a factory of adapters sharing this test's Redis prefix (no sandbox unless api bases are given)."""
    def make(**overrides):
        kwargs = dict(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=CORP_ID, robot_code=APP_KEY,
                      card_template_id=TEMPLATE, redis=redis_conn, key_prefix=key_prefix,
                      api_base="http://127.0.0.1:9", oapi_base="http://127.0.0.1:9", login_base="http://127.0.0.1:9",
                      event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY, clock=lambda: NOW, timeout=5.0)
        kwargs.update(overrides)
        return DingTalkAdapter(**kwargs)
    return make


@pytest.fixture
def adapter(make_adapter):
    return make_adapter()


def click_data(action="permit.approve:HW-1:s3", selected=None, **extra) -> dict:
    params = {"action": action}
    if selected is not None:
        params["checklist"] = selected
    content = {"cardPrivateData": {"actionIds": [action], "params": params}}
    data = {"outTrackId": "permit42-s3", "corpId": CORP_ID, "userId": "zhangsan", "type": "actionCallback",
            "spaceType": "IM_ROBOT", "spaceId": "zhangsan", "userIdType": 1,
            "content": json.dumps(content), "extension": "{}"}
    data.update(extra)
    return data


def robot_data(msgtype="text", **extra) -> dict:
    data = {"conversationType": "1", "conversationId": "cid1", "chatbotCorpId": CORP_ID, "senderStaffId": "lisi",
            "senderNick": "李四", "robotCode": APP_KEY, "msgId": "msgABC", "createAt": 1_795_000_123_456,
            "msgtype": msgtype}
    if msgtype == "text":
        data["text"] = {"content": "  气体分析 0.1%  "}
    elif msgtype == "picture":
        data["content"] = {"downloadCode": "dc-123", "pictureDownloadCode": "pdc-123"}
    data.update(extra)
    return data


# -- card clicks ----------------------------------------------------------------------------------

def test_a_card_click_becomes_a_click_event(adapter):
    event = adapter.card_event(click_data(selected={"index": [2, 0]}), message_id="mid-1")
    assert (event.platform, event.kind, event.user_id, event.task_id) == ("dingtalk", "click", "zhangsan",
                                                                          "permit42-s3")
    assert event.key == "permit.approve:HW-1:s3" and event.selected == ("o1", "o3")
    assert event.msg_id == "mid-1" and event.dedupe_key == "dingtalk:msg:mid-1"


@pytest.mark.parametrize("selected", [None, "", {}, {"index": []}, '{"index": []}'])
def test_nothing_ticked_is_an_empty_selection(adapter, selected):
    assert adapter.card_event(click_data(selected=selected)).selected == ()


@pytest.mark.parametrize("data, reason", [
    (["not", "an", "object"], "not a JSON object"),
    (click_data(userId=""), "userId"),
    ({k: v for k, v in click_data().items() if k != "outTrackId"}, "outTrackId"),
    (click_data(content="{broken"), "content is not valid JSON"),
    (click_data(content="[" * 60000), "content is not valid JSON"),
    (click_data(content='"a string"'), "content is not a JSON object"),
    (click_data(content=json.dumps({"cardPrivateData": {"params": {}}})), "params.action"),
    (click_data(selected="opt0"), "params.checklist is not JSON"),
    (click_data(selected={"index": ["o1"]}), "params.checklist.index"),
    (click_data(selected={"index": [99]}), "params.checklist.index"),
    (click_data(selected={"index": 1}), "params.checklist.index"),
])
def test_a_malformed_card_callback_is_refused_with_400(adapter, data, reason):
    with pytest.raises(CallbackRejected) as refused:
        adapter.card_event(data)
    assert refused.value.status == 400 and reason in refused.value.reason


# -- robot messages -------------------------------------------------------------------------------

def test_a_one_to_one_text_becomes_a_text_event(adapter):
    event = adapter.robot_event(robot_data(), message_id="frame-1")
    assert (event.kind, event.user_id, event.text) == ("text", "lisi", "气体分析 0.1%")
    assert event.msg_id == "msgABC" and event.created_at == 1_795_000_123


def test_a_picture_becomes_an_image_event_with_its_download_code(adapter):
    event = adapter.robot_event(robot_data("picture"))
    assert (event.kind, event.media_id, event.user_id) == ("image", "dc-123", "lisi")


def test_the_frame_id_stands_in_for_a_missing_msg_id(adapter):
    data = robot_data()
    del data["msgId"]
    assert adapter.robot_event(data, message_id="frame-9").msg_id == "frame-9"


@pytest.mark.parametrize("data", [robot_data(conversationType="2"), robot_data("audio", content={}),
                                  robot_data(senderStaffId="")])
def test_group_chats_other_types_and_outsiders_are_unknown(adapter, data):
    assert adapter.robot_event(data).kind == "unknown"


@pytest.mark.parametrize("data, reason", [
    ("text", "not a JSON object"),
    ({k: v for k, v in robot_data().items() if k != "msgtype"}, "msgtype"),
    (robot_data(text={"nope": 1}), "text.content"),
    (robot_data("picture", content="{oops"), "content is not valid JSON"),
    (robot_data("picture", content={}), "downloadCode"),
    (robot_data(createAt="yesterday"), "createAt"),
])
def test_a_malformed_robot_message_is_refused_with_400(adapter, data, reason):
    with pytest.raises(CallbackRejected) as refused:
        adapter.robot_event(data)
    assert refused.value.status == 400 and reason in refused.value.reason


# -- HTTP-mode callbacks --------------------------------------------------------------------------

def signed(timestamp_ms: int, secret: str = APP_SECRET) -> dict:
    """Sign a robot callback: timestamp and sign = base64(HmacSHA256(AppSecret, ts + "\\n" + AppSecret))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": str(timestamp_ms), "sign": base64.b64encode(digest).decode()}


def card_signed(timestamp_ms: int, api_secret: str | None = None) -> dict:
    """Sign a card callback: x-ddpaas-signature = base64(HmacSHA256(apiSecret, ts)), apiSecret as registered."""
    api_secret = card_api_secret(APP_SECRET) if api_secret is None else api_secret
    digest = hmac.new(api_secret.encode(), str(timestamp_ms).encode(), hashlib.sha256).digest()
    return {"x-ddpaas-signature-timestamp": str(timestamp_ms), "x-ddpaas-signature": base64.b64encode(digest).decode()}


def test_a_card_callback_signed_the_robot_way_is_refused(adapter):
    refused = refusal(lambda: adapter.http_callback(signed(int(NOW * 1000)), json.dumps(click_data()).encode(),
                                                            topic="card"))
    assert (refused.status, refused.code) == (403, "sign_missing")


def test_a_signed_http_card_callback_is_accepted(adapter):
    event = adapter.http_callback(card_signed(int(NOW * 1000)), json.dumps(click_data()).encode(), topic="card")
    assert event.kind == "click" and event.task_id == "permit42-s3"


def test_a_signed_http_robot_callback_is_accepted_with_any_header_case(adapter):
    headers = {k.title(): v for k, v in signed(int(NOW * 1000) - 5000).items()}
    event = adapter.http_callback(headers, json.dumps(robot_data()).encode(), topic="robot")
    assert event.kind == "text" and event.user_id == "lisi"


def test_an_http_card_callback_retried_is_recognised_and_a_different_click_is_not(adapter):
    body = json.dumps(click_data(selected={"index": [0]})).encode()
    first = adapter.http_callback(card_signed(int(NOW * 1000)), body, topic="card")
    retry = adapter.http_callback(card_signed(int(NOW * 1000) + 3000), body, topic="card")   # re-signed, same body
    # Each request carries a sign of its own (a pair is used once), all within the same second.
    ticked = adapter.http_callback(card_signed(int(NOW * 1000) + 1), json.dumps(click_data(selected={"index": [1]})).encode(),
                                   topic="card")
    other = adapter.http_callback(card_signed(int(NOW * 1000) + 2),
                                  json.dumps(click_data(action="permit.return:HW-1:s3")).encode(), topic="card")
    assert first.created_at == ticked.created_at == other.created_at   # all in the same second
    assert first.dedupe_key == retry.dedupe_key
    assert len({first.dedupe_key, ticked.dedupe_key, other.dedupe_key}) == 3
    # With no id to tell them apart, the same content counts as a retry only while retries come.
    assert first.dedupe_seconds == 60


def test_stream_frames_are_keyed_on_their_message_id_not_their_second(adapter):
    data = click_data()
    first, redelivered = adapter.card_event(data, message_id="mid-1"), adapter.card_event(data, message_id="mid-1")
    again = adapter.card_event(data, message_id="mid-2")   # the same button tapped again, a new frame
    assert first.dedupe_key == redelivered.dedupe_key == "dingtalk:msg:mid-1" != again.dedupe_key
    assert first.dedupe_seconds == 3600


def test_an_http_robot_message_is_keyed_on_its_msg_id(adapter):
    event = adapter.http_callback(signed(int(NOW * 1000)), json.dumps(robot_data()).encode(), topic="robot")
    assert event.dedupe_key == "dingtalk:msg:msgABC"


@pytest.mark.parametrize("headers, status, reason", [
    (card_signed(int(NOW * 1000), api_secret="someone-else"), 403, "bad sign"),
    (card_signed(int(NOW * 1000), api_secret=APP_SECRET), 403, "bad sign"),   # keyed by the AppSecret itself
    ({**card_signed(int(NOW * 1000)), "x-ddpaas-signature-timestamp": str(int(NOW * 1000) + 1)}, 403, "bad sign"),
    (card_signed(int((NOW - 3601) * 1000)), 403, "stale timestamp"),
    (card_signed(int((NOW + 3601) * 1000)), 403, "stale timestamp"),
    ({"x-ddpaas-signature-timestamp": str(int(NOW * 1000))}, 403, "missing"),
    ({"x-ddpaas-signature": "abc"}, 403, "missing"),
    ({"x-ddpaas-signature-timestamp": "soon", "x-ddpaas-signature": "abc"}, 400, "not an integer"),
])
def test_a_forged_or_stale_http_callback_is_refused(adapter, headers, status, reason):
    with pytest.raises(CallbackRejected) as refused:
        adapter.http_callback(headers, json.dumps(click_data()).encode(), topic="card")
    assert refused.value.status == status and reason in refused.value.reason


@pytest.mark.parametrize("body, topic, reason", [
    (b"{not json", "card", "not JSON"),
    (b"\xff\xfe", "card", "not JSON"),
    (b"[" * 60000, "card", "not JSON"),
    (json.dumps(click_data(userId="")).encode(), "card", "userId"),
    (b"{}", "event", "unknown callback topic"),
    (b" " * (64 * 1024 + 1), "card", "exceeds"),
])
def test_a_genuine_but_malformed_http_callback_is_a_400(adapter, body, topic, reason):
    with pytest.raises(CallbackRejected) as refused:
        adapter.http_callback(card_signed(int(NOW * 1000)), body, topic=topic)
    assert refused.value.status == 400 and reason in refused.value.reason


def refusal(call) -> SignRefused:
    with pytest.raises(SignRefused) as refused:
        call()
    return refused.value


def test_a_sign_is_spent_by_its_first_use_whatever_the_body(adapter):
    headers = card_signed(int(NOW * 1000))
    assert adapter.http_callback(headers, json.dumps(click_data()).encode(), topic="card").user_id == "zhangsan"
    refused = refusal(lambda: adapter.http_callback(headers, json.dumps(click_data()).encode(), topic="card"))
    assert (refused.status, refused.code) == (401, "sign_replayed")
    # The eavesdropper's replay of a robot pair with an admin's message.
    robot = signed(int(NOW * 1000))
    assert adapter.http_callback(robot, json.dumps(robot_data()).encode(), topic="robot").user_id == "lisi"
    admin = json.dumps(robot_data(senderStaffId="lvming", msgId="msgEVIL", text={"content": "导出 审计 2026-11"}))
    refused = refusal(lambda: adapter.http_callback(robot, admin.encode(), topic="robot"))
    assert (refused.status, refused.code) == (401, "sign_replayed")


def test_a_pair_spent_on_a_malformed_body_cannot_be_tried_again(adapter):
    headers = card_signed(int(NOW * 1000) - 1000)
    with pytest.raises(CallbackRejected):
        adapter.http_callback(headers, b"{not json", topic="card")
    refused = refusal(lambda: adapter.http_callback(headers, json.dumps(click_data()).encode(), topic="card"))
    assert refused.code == "sign_replayed"


def test_the_window_defaults_to_five_minutes_and_is_a_setting(make_adapter):
    adapter = make_adapter()
    assert adapter.http_callback(card_signed(int((NOW - 299) * 1000)), json.dumps(click_data()).encode(), topic="card")
    refused = refusal(lambda: adapter.http_callback(card_signed(int((NOW - 301) * 1000)),
                                                    json.dumps(click_data()).encode(), topic="card"))
    assert (refused.status, refused.code) == (403, "timestamp_stale")
    narrow = make_adapter(replay_window=30)
    refused = refusal(lambda: narrow.http_callback(card_signed(int((NOW - 31) * 1000)),
                                                   json.dumps(click_data()).encode(), topic="card"))
    assert refused.code == "timestamp_stale"
    with pytest.raises(ValueError):
        make_adapter(replay_window=7200)


@pytest.mark.parametrize("topic, data, status, code", [
    ("card", click_data(corpId="dingothercorp"), 403, "wrong_corp"),
    ("card", {k: v for k, v in click_data().items() if k != "corpId"}, 403, "wrong_corp"),
    ("robot", robot_data(chatbotCorpId="dingothercorp"), 403, "wrong_corp"),
    ("robot", {k: v for k, v in robot_data().items() if k != "chatbotCorpId"}, 403, "wrong_corp"),
    ("robot", robot_data(robotCode="someone-elses-robot"), 403, "wrong_corp"),
    ("robot", robot_data(createAt=int((NOW - 3600) * 1000)), 403, "message_stale"),
    ("robot", robot_data(createAt="now"), 403, "message_stale"),
])
def test_a_body_that_is_not_from_our_corp_or_not_fresh_is_refused(adapter, topic, data, status, code):
    sign = card_signed if topic == "card" else signed
    refused = refusal(lambda: adapter.http_callback(sign(int(NOW * 1000)), json.dumps(data).encode(), topic=topic))
    assert (refused.status, refused.code) == (status, code)


def test_a_robot_msgid_is_refused_the_second_time_unless_its_handling_failed(adapter):
    body = json.dumps(robot_data()).encode()
    event = adapter.http_callback(signed(int(NOW * 1000)), body, topic="robot")
    refused = refusal(lambda: adapter.http_callback(signed(int(NOW * 1000) + 1), body, topic="robot"))
    assert (refused.status, refused.code) == (409, "message_replayed")
    adapter.forget_message(event)
    assert adapter.http_callback(signed(int(NOW * 1000) + 2), body, topic="robot").msg_id == "msgABC"


def test_without_redis_no_callback_is_admitted(make_adapter):
    from redis import Redis
    adapter = make_adapter(redis=Redis(host="127.0.0.1", port=9, socket_connect_timeout=1))
    refused = refusal(lambda: adapter.http_callback(card_signed(int(NOW * 1000)), json.dumps(click_data()).encode(),
                                                    topic="card"))
    assert (refused.status, refused.code) == (503, "replay_check_unavailable")


# -- classic encrypted event subscription ---------------------------------------------------------

def sealed(event: dict, *, owner: str = APP_KEY, ts_ms: int = int(NOW * 1000)) -> tuple[dict, bytes]:
    """Encrypt an event as the platform does; return (query args, body)."""
    crypto = DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, owner)
    out = crypto.encrypt_message(json.dumps(event), nonce="n0nce", timestamp=ts_ms)
    args = {"msg_signature": out["msg_signature"], "timestamp": out["timeStamp"], "nonce": out["nonce"]}
    return args, json.dumps({"encrypt": out["encrypt"]}).encode()


def test_a_classic_event_is_decrypted_and_answered_with_encrypted_success(adapter):
    args, body = sealed({"EventType": "check_url"})
    event, reply = adapter.open_event(args, body)
    assert event == {"EventType": "check_url"}
    opened = DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, APP_KEY).decrypt_encrypt_str(
        reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert opened == "success"


def test_the_older_signature_parameter_name_is_accepted(adapter):
    args, body = sealed({"EventType": "user_add_org", "UserId": ["u1"]})
    args = {"signature": args["msg_signature"], "timeStamp": args["timestamp"], "nonce": args["nonce"]}
    assert adapter.open_event(args, body)[0]["EventType"] == "user_add_org"


def test_an_event_sealed_with_the_corp_id_is_refused(adapter):
    args, body = sealed({"EventType": "check_url"}, owner=CORP_ID)
    with pytest.raises(CallbackRejected) as refused:
        adapter.open_event(args, body)
    assert refused.value.status == 403 and "another app" in refused.value.reason


@pytest.mark.parametrize("tamper, status, reason", [
    (lambda a, b: ({**a, "msg_signature": "0" * 40}, b), 403, "bad signature"),
    (lambda a, b: ({**a, "nonce": ""}, b), 403, "missing"),
    (lambda a, b: (a, b"[]"), 400, "JSON object"),
    (lambda a, b: (a, b"{}"), 400, "no encrypt"),
])
def test_a_tampered_classic_event_is_refused(adapter, tamper, status, reason):
    args, body = tamper(*sealed({"EventType": "check_url"}))
    with pytest.raises(CallbackRejected) as refused:
        adapter.open_event(args, body)
    assert refused.value.status == status and reason in refused.value.reason


def test_a_replayed_classic_event_is_refused(adapter):
    args, body = sealed({"EventType": "check_url"}, ts_ms=int((NOW - 7200) * 1000))
    with pytest.raises(CallbackRejected) as refused:
        adapter.open_event(args, body)
    assert refused.value.status == 403 and "stale" in refused.value.reason


def test_classic_events_are_refused_when_no_subscription_is_configured(make_adapter):
    args, body = sealed({"EventType": "check_url"})
    with pytest.raises(CallbackRejected) as refused:
        make_adapter(event_aes_key="").open_event(args, body)
    assert refused.value.status == 403


# -- configuration and local checks ---------------------------------------------------------------

def test_the_oauth_link_goes_to_the_login_page_with_the_app_key(make_adapter):
    url = make_adapter(login_base="https://login.example.test/").oauth_url("https://permit.example/board?x=1", "s1")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.example.test/oauth2/auth"
    assert query == {"redirect_uri": "https://permit.example/board?x=1", "response_type": "code",
                     "client_id": APP_KEY, "scope": "openid", "state": "s1", "prompt": "consent"}


def test_a_card_with_a_non_string_value_is_refused_before_any_call(adapter):
    with pytest.raises(PlatformError) as refused:
        adapter.send_card("zhangsan", {"outTrackId": "t1", "cardParamMap": {"fields": [1, 2]}})
    assert refused.value.code == "bad_card" and not refused.value.retryable


@pytest.mark.parametrize("overrides", [{"callback_type": "WEBHOOK"}, {"callback_type": "HTTP"},
                                       {"api_base": "http://127.0.0.1:9/prefix"}])
def test_a_bad_configuration_fails_at_construction(make_adapter, overrides):
    with pytest.raises(ValueError):
        make_adapter(**overrides)


# == through the sandbox ==========================================================================

@pytest.fixture
def sandbox():
    """Yield (base URL, app) of a fresh DingTalk sandbox served on loopback."""
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    app = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=CORP_ID, robot_code=APP_KEY,
                                  card_template_id=TEMPLATE, users=USERS)
    base, stop = run_dingtalk_sandbox(app)
    yield base
    stop()


@pytest.fixture
def live(make_adapter, sandbox):
    return make_adapter(api_base=sandbox, oapi_base=sandbox, login_base=sandbox, clock=time.time)


def admin(base: str, method: str, path: str, **kwargs):
    res = requests.request(method, base + path, timeout=10, **kwargs)
    res.raise_for_status()
    return res.json()


def stats(base: str) -> dict:
    return admin(base, "GET", "/sandbox/stats")


def received(base: str, user: str) -> list[dict]:
    return admin(base, "GET", "/sandbox/messages", params={"user": user})


def fault(base: str, **spec) -> None:
    admin(base, "POST", "/sandbox/faults", json=spec)


def permit_card(track: str | None = None, *, status: str = "open") -> dict:
    """A card as cards/dingtalk.py renders it: every value a string, lists JSON-encoded."""
    buttons = [{"id": "permit.approve:HW-1:s3", "text": "同意", "style": "primary"},
               {"id": "permit.reject:HW-1:s3", "text": "驳回", "style": "danger"}]
    return {"outTrackId": track or f"t{uuid.uuid4().hex}",
            "cardParamMap": {"kind": "sign", "title": "动火作业 HW-1", "subtitle": "第3步：气体分析", "notice": "",
                             "emphasis": "", "urgent": "false",
                             "fields": json.dumps([{"name": "地点", "value": "3#罐区"}], ensure_ascii=False),
                             "buttons": json.dumps(buttons, ensure_ascii=False), "checklist": "[]",
                             "checklist_key": "", "url": "", "links": "[]", "status": status}}


def test_a_card_reaches_its_person_through_the_robot(live, sandbox):
    card = permit_card()
    result = live.send_card("zhangsan", card)
    [message] = received(sandbox, "zhangsan")
    assert message["msgtype"] == "interactive_card" and message["task_id"] == card["outTrackId"]
    assert message["content"]["cardParamMap"]["title"] == "动火作业 HW-1"
    assert result == {"outTrackId": card["outTrackId"], "carrierId": message["msgid"]}
    assert received(sandbox, "lisi") == []


def test_a_card_is_updated_in_place_by_its_out_track_id(live, sandbox):
    card = permit_card()
    live.send_card("zhangsan", card)
    live.update_card(card["outTrackId"], {"status": "settled", "notice": "张三 已同意"})
    [message] = received(sandbox, "zhangsan")
    assert message["state"]["card"]["status"] == "settled" and message["state"]["card"]["notice"] == "张三 已同意"
    assert message["state"]["card"]["title"] == "动火作业 HW-1"   # by key: the other variables stay
    assert message["state"]["interactive"] is False


def test_updating_an_unknown_card_is_not_retryable(live):
    with pytest.raises(PlatformError) as failed:
        live.update_card("never-sent", {"status": "settled"})
    assert not failed.value.retryable and "outTrackId" in str(failed.value.code)


def test_a_reused_out_track_id_is_card_exists(live, sandbox):
    card = permit_card()
    live.send_card("zhangsan", card)
    with pytest.raises(PlatformError) as failed:
        live.send_card("zhangsan", card)
    assert (failed.value.code, failed.value.retryable) == ("card_exists", False)
    assert len(received(sandbox, "zhangsan")) == 1


def test_a_text_and_a_file_reach_their_person(live, sandbox):
    live.send_text("lisi", "待办：2 项")
    live.send_file("lisi", "作业票台账.xlsx", b"PK\x03\x04 workbook")
    text, sent_file = received(sandbox, "lisi")
    assert text["msgtype"] == "text" and text["content"] == {"content": "待办：2 项"}
    assert sent_file["msgtype"] == "file" and sent_file["content"]["file_name"] == "作业票台账.xlsx"
    assert sent_file["content"]["file_type"] == "xlsx"
    assert stats(sandbox)["media/upload"] == 1 and stats(sandbox)["batchSend"] == 2


def test_a_photo_sent_in_chat_is_downloaded(live, sandbox):
    photo = b"\xff\xd8\xff\xe0 a jpeg" * 100
    answer = admin(sandbox, "POST", "/sandbox/image", data={"user": "wangwu"},
                   files={"media": ("site.jpg", photo, "image/jpeg")})
    assert live.fetch_media(answer["download_code"]) == photo


def test_a_download_larger_than_the_cap_is_refused(live, sandbox):
    answer = admin(sandbox, "POST", "/sandbox/image", data={"user": "wangwu"},
                   files={"media": ("site.jpg", b"x" * 5000, "image/jpeg")})
    live.max_file_bytes = 1000
    with pytest.raises(PlatformError) as failed:
        live.fetch_media(answer["download_code"])
    assert (failed.value.code, failed.value.retryable) == ("media_too_large", False)


def test_a_bad_download_code_is_not_retryable(live):
    with pytest.raises(PlatformError) as failed:
        live.fetch_media("dc-made-up")
    assert failed.value.code == "invalidDownloadCode" and not failed.value.retryable


def test_both_tokens_are_fetched_once_and_shared_through_redis(make_adapter, sandbox):
    first = make_adapter(api_base=sandbox, oapi_base=sandbox)
    second = make_adapter(api_base=sandbox, oapi_base=sandbox)
    first.send_card("zhangsan", permit_card())
    second.send_text("lisi", "好")
    first.send_file("wangwu", "a.txt", b"a")
    second.send_file("wangwu", "b.txt", b"b")
    counts = stats(sandbox)
    assert counts["oauth2/accessToken"] == 1 and counts["gettoken"] == 1
    assert counts["createAndDeliver"] == 1 and counts["batchSend"] == 3 and counts["media/upload"] == 2


def test_revoked_tokens_are_refreshed_once_and_the_calls_succeed(live, sandbox):
    live.send_text("zhangsan", "一")
    live.send_file("zhangsan", "a.txt", b"a")
    fault(sandbox, revoke_tokens=True)
    live.send_card("zhangsan", permit_card())
    live.send_file("zhangsan", "b.txt", b"b")
    counts = stats(sandbox)
    assert counts["oauth2/accessToken"] == 2 and counts["gettoken"] == 2
    assert counts["createAndDeliver"] == 2 and counts["media/upload"] == 3   # each failed once, then passed
    assert [m["msgtype"] for m in received(sandbox, "zhangsan")] == ["text", "file", "interactive_card", "file"]


def test_an_api_stuck_on_invalid_authentication_fails_after_one_refresh(live, sandbox):
    fault(sandbox, api="batchSend", status=401, code="InvalidAuthentication")
    with pytest.raises(PlatformError) as failed:
        live.send_text("zhangsan", "一")
    assert failed.value.code == "InvalidAuthentication" and failed.value.retryable
    assert stats(sandbox)["batchSend"] == 2 and received(sandbox, "zhangsan") == []


def test_an_oapi_stuck_on_expired_tokens_fails_after_one_refresh(live, sandbox):
    fault(sandbox, api="media/upload", errcode=42001)
    with pytest.raises(PlatformError) as failed:
        live.send_file("zhangsan", "a.txt", b"a")
    assert (failed.value.code, failed.value.retryable) == (42001, True)
    assert stats(sandbox)["media/upload"] == 2 and stats(sandbox)["gettoken"] == 2


@pytest.mark.parametrize("code", ["Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                                  "Forbidden.AccessDenied.QpsLimitForApi"])
def test_the_documented_qps_limit_codes_rate_limit_a_card_for_a_second(live, sandbox, code):
    fault(sandbox, api="createAndDeliver", status=403, code=code, times=1)
    with pytest.raises(RateLimited) as limited:
        live.send_card("zhangsan", permit_card())
    assert limited.value.retry_after == 1.0 and code in limited.value.message
    assert received(sandbox, "zhangsan") == []


def test_an_error_that_only_mentions_out_track_id_is_not_taken_for_card_exists(live, sandbox):
    fault(sandbox, api="createAndDeliver", status=400, code="param.outTrackIdEmpty", times=1)
    with pytest.raises(PlatformError) as failed:
        live.send_card("zhangsan", permit_card())
    assert failed.value.code == "param.outTrackIdEmpty"


@pytest.mark.parametrize("status, code, retryable", [(429, "Throttling", True), (503, "ServiceUnavailable", True),
                                                     (400, "param.invalid", False), (403, "Forbidden", False)])
def test_new_api_errors_say_whether_a_retry_may_pass(live, sandbox, status, code, retryable):
    fault(sandbox, api="createAndDeliver", status=status, code=code, times=1)
    with pytest.raises(PlatformError) as failed:
        live.send_card("zhangsan", permit_card())
    assert (failed.value.code, failed.value.retryable) == (code, retryable)
    assert received(sandbox, "zhangsan") == []


@pytest.mark.parametrize("errcode, retryable", [(90018, True), (90002, True), (40035, False)])
def test_oapi_errors_say_whether_a_retry_may_pass(live, sandbox, errcode, retryable):
    fault(sandbox, api="media/upload", errcode=errcode, times=1)
    with pytest.raises(PlatformError) as failed:
        live.send_file("zhangsan", "a.txt", b"a")
    assert (failed.value.code, failed.value.retryable) == (errcode, retryable)


def test_an_unreachable_platform_is_retryable(make_adapter):
    with pytest.raises(PlatformError) as failed:
        make_adapter(api_base="http://127.0.0.1:9").send_text("zhangsan", "一")
    assert failed.value.retryable


def test_a_flow_controlled_text_is_rate_limited_and_not_delivered(live, sandbox):
    fault(sandbox, flow_control=["lisi"], times=1)
    with pytest.raises(RateLimited) as limited:
        live.send_text("lisi", "一")
    assert limited.value.retryable and limited.value.retry_after > 0
    assert received(sandbox, "lisi") == []
    live.send_text("lisi", "一")
    assert len(received(sandbox, "lisi")) == 1


def test_a_flow_controlled_card_is_rate_limited(live, sandbox):
    fault(sandbox, flow_control=["lisi"], times=1)
    with pytest.raises(RateLimited):
        live.send_card("lisi", permit_card())
    assert received(sandbox, "lisi") == []


def test_the_retry_of_a_flow_controlled_card_delivers_the_instance_created_before(live, sandbox):
    """The instance exists after the refusal, so the retry must deliver it, not report card_exists."""
    card = permit_card()
    fault(sandbox, flow_control=["lisi"], times=1)
    with pytest.raises(RateLimited):
        live.send_card("lisi", card)
    live.send_card("lisi", card)
    [message] = received(sandbox, "lisi")
    assert message["task_id"] == card["outTrackId"]


def test_a_non_member_cannot_be_sent_to(live):
    with pytest.raises(PlatformError) as failed:
        live.send_text("outsider", "一")
    assert (failed.value.code, failed.value.retryable) == ("invalid_user", False)
    with pytest.raises(PlatformError) as failed:
        live.send_card("outsider", permit_card())
    assert failed.value.code == "not_delivered" and not failed.value.retryable


def test_an_oauth_code_resolves_to_the_member(live, sandbox):
    code = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "wangwu"})["code"]
    assert live.user_from_oauth_code(code) == "wangwu"
    with pytest.raises(PlatformError) as failed:   # single use
        live.user_from_oauth_code(code)
    assert failed.value.code == "not_member"


def test_a_made_up_oauth_code_is_not_a_member(live):
    with pytest.raises(PlatformError) as failed:
        live.user_from_oauth_code("made-up")
    assert (failed.value.code, failed.value.retryable) == ("not_member", False)


def test_a_captioned_photo_is_an_image_event_with_its_caption(adapter):
    content = {"richText": [{"text": "灭火器"}, {"text": "已就位 "},
                            {"type": "picture", "downloadCode": "dc-9", "pictureDownloadCode": "pdc-9"}]}
    event = adapter.robot_event(robot_data("richText", content=content))
    assert (event.kind, event.media_id, event.text) == ("image", "dc-9", "灭火器已就位")
    words = adapter.robot_event(robot_data("richText", content={"richText": [{"text": " 待办 "}]}))
    assert (words.kind, words.text) == ("text", "待办")


@pytest.mark.parametrize("content", [{}, {"richText": []}, {"richText": [{"type": "picture"}]},
                                     {"richText": [{"text": "  "}]}, {"richText": "x"}])
def test_a_malformed_rich_text_is_refused(adapter, content):
    with pytest.raises(CallbackRejected):
        adapter.robot_event(robot_data("richText", content=content))
