"""DingTalk end to end, where it differs from WeCom: the Stream connection dropping and redelivering,
flow control, tokens expiring mid-run, HTTP callbacks, check-in through DingTalk's OAuth, exports, and
a permit whose people are split between the two apps.

The shared lifecycle tests run on both platforms in tests/test_wecom_real_path.py.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time

import pytest
import requests
from openpyxl import load_workbook

from handlers.demo.scripted import take_through
from models import AuditEvent, CheckIn, Outbox, Person, Signature
from models.permit import Permit
from tests.test_wecom_real_path import applied, apply_text, take_one
from bot.dingtalk_sign import card_api_secret, dingtalk_sign
from tests.worlds import APP_SECRET, DING_CORP, world as a_world
from workflow import audit, machine


@pytest.fixture
def ding(plant, monkeypatch, redis_conn):
    with a_world("dingtalk", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


@pytest.fixture
def ding_http(plant, monkeypatch, redis_conn):
    with a_world("dingtalk", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn,
                 dingtalk_mode="http") as w:
        yield w


def stream_log(w) -> dict:
    return requests.get(f"{w.dingtalk}/sandbox/stream", timeout=5).json()


def connection_ids(log: dict) -> list[str]:
    return [c["connectionId"] for c in log["connections"]]


def wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def everything_sent(w) -> None:
    """Drain until no row waits, skipping the backoff a refused send waits out."""
    for _ in range(20):
        w.drain()
        Outbox.update(lease_until=None).where(Outbox.state == "pending").execute()
        if not Outbox.select().where(Outbox.state.in_(["pending", "sending"])).exists():
            return
    raise AssertionError("rows still waiting: " + str([(r.id, r.last_error) for r in Outbox.select()
                                                        .where(Outbox.state != "sent")]))


# -- Stream mode ----------------------------------------------------------------------------------

def test_a_replayed_stream_frame_changes_nothing(ding):
    permit, card = applied(ding.phone, ding.drain)
    answer = ding.phone.click("zhengji", card, repeat=3)     # the same messageId, three times
    assert answer["status"] == 200
    ding.drain()
    assert Signature.select().where(Signature.decision == "confirm").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 0
    delivered = [d for d in stream_log(ding)["delivered"] if d["messageId"] == answer["message_id"]]
    assert delivered and len(delivered[0]["acks"]) == 3 and {a["code"] for a in delivered[0]["acks"]} == {200}


def test_the_connection_drops_mid_run_and_every_acked_click_is_handled_exactly_once(ding):
    phone = ding.phone
    permit, _ = applied(phone, ding.drain)
    # Drop the websocket after each next frame is pushed: the click was kept and ACKed or it was not;
    # DingTalk sends nothing again on the new connection either way.
    for _ in range(3):
        requests.post(f"{ding.dingtalk}/sandbox/stream/faults", json={"drop_after": 1}, timeout=5)
        take_one(phone, ding.drain, permit.no)
        wait_for(lambda: stream_log(ding)["connections"], "the connection came back")
    log = stream_log(ding)
    assert log["pending"] == [] and all(len(d["attempts"]) == 1 for d in log["delivered"] + log["failed"])
    ding.drain()
    signed = [s.step.key for s in Signature.select().order_by(Signature.id)]
    assert len(signed) == len(set(signed))          # nothing applied twice
    acked = [d for d in log["delivered"] if d["topic"] == "/v1.0/card/instances/callback"]
    assert len(signed) >= len(acked)                # and every click whose frame was ACKed was applied
    assert audit.verify().ok


def test_a_malformed_frame_is_answered_400_and_the_connection_survives(ding):
    before = stream_log(ding)
    requests.post(f"{ding.dingtalk}/sandbox/stream/malformed", timeout=5)
    wait_for(lambda: any(a["code"] == 400 for d in stream_log(ding)["delivered"] for a in d["acks"]),
             "the malformed frame was answered")
    assert connection_ids(stream_log(ding)) == connection_ids(before)
    # The same connection still carries work.
    permit, card = applied(ding.phone, ding.drain)
    assert ding.phone.click("zhengji", card)["status"] == 200
    ding.drain()
    assert Signature.select().count() == 1


# -- the platform's limits and tokens -----------------------------------------------------------

def test_a_flow_controlled_recipient_is_retried_until_the_card_arrives(ding):
    requests.post(f"{ding.dingtalk}/sandbox/faults", json={"flow_control": ["zhengji"], "times": 2}, timeout=5)
    permit, card = applied(ding.phone, ding.drain)
    assert card is None                             # "success", but nothing reached 郑计
    row = Outbox.get((Outbox.person == Person.get(Person.wecom_userid == "zhengji")) & (Outbox.kind == "act"))
    assert row.state == "pending" and "flow" in (row.last_error or "").lower()
    everything_sent(ding)
    assert ding.phone.open_card("zhengji", f"{permit.no}-plan-") is not None
    assert len([m for m in ding.phone.messages("zhengji") if m["msgtype"] == "interactive_card"]) == 1


def test_tokens_revoked_mid_run_are_fetched_again_and_nothing_is_lost(ding):
    permit, card = applied(ding.phone, ding.drain)
    requests.post(f"{ding.dingtalk}/sandbox/faults", json={"revoke_tokens": True}, timeout=5)
    ding.phone.click("zhengji", card)
    ding.drain()
    assert {row.state for row in Outbox.select()} == {"sent"}
    stats = requests.get(f"{ding.dingtalk}/sandbox/stats", timeout=5).json()
    assert stats["oauth2/accessToken"] >= 2         # fetched again once the first was revoked
    assert machine.active_step(Permit.get_by_id(permit.id)).key != "plan"


# -- HTTP callbacks -------------------------------------------------------------------------------

def card_headers(stamp: str, api_secret: str) -> dict:
    """Sign a card callback as DingTalk does: x-ddpaas-signature = base64(HmacSHA256(apiSecret, timestamp))."""
    signature = base64.b64encode(hmac.new(api_secret.encode(), stamp.encode(), hashlib.sha256).digest()).decode()
    return {"x-ddpaas-signature-timestamp": stamp, "x-ddpaas-signature": signature,
            "Content-Type": "application/json"}


def test_http_card_callbacks_carry_the_card_signature_and_forged_ones_are_refused(ding_http):
    phone, drain = ding_http.phone, ding_http.drain
    permit, card = applied(phone, drain)
    assert card is not None
    stamp = str(int(time.time() * 1000))
    body = json.dumps({"outTrackId": card["task_id"], "corpId": DING_CORP, "userId": "zhengji",
                       "type": "actionCallback",
                       "content": json.dumps({"cardPrivateData": {"params": {"action": card["state"]["card"]
                                                                             ["buttons"][0]["id"]}}})}).encode()
    before = (AuditEvent.select().count(), Outbox.select().count())
    refusals = [
        card_headers(stamp, "a-guessed-secret"),                                  # forged
        card_headers(str(int(time.time() * 1000) - 2 * 3600 * 1000), card_api_secret(APP_SECRET)),  # stale
        {"timestamp": stamp, "sign": dingtalk_sign(stamp, APP_SECRET)},          # the robot's scheme
        {},                                                                       # unsigned
    ]
    for headers in refusals:
        answer = requests.post(f"{ding_http.app}/dingtalk/card", data=body, headers=headers, timeout=10)
        assert answer.status_code in (400, 403) and "Traceback" not in answer.text, headers
    assert (AuditEvent.select().count(), Outbox.select().count()) == before
    clicked = phone.click("zhengji", card)
    assert clicked["status"] == 200 and set(clicked["attempts"][0]["sent_headers"]) == {
        "x-ddpaas-signature-timestamp", "x-ddpaas-signature"}
    drain()
    assert take_through(phone, permit.no, drain).state == "closed"
    assert {s.channel for s in Signature.select()} == {"dingtalk"}


def books() -> tuple[int, int, int]:
    return AuditEvent.select().count(), Outbox.select().count(), Signature.select().count()


def test_a_captured_sign_replayed_with_an_admins_message_is_refused_and_changes_nothing(ding_http):
    from tests.worlds import APP_KEY, DING_CORP
    phone, drain = ding_http.phone, ding_http.drain
    permit, card = applied(phone, drain)
    said = phone.text("zhengji", "待办")
    assert said["status"] == 200
    drain()
    captured = said["attempts"][0]["sent_headers"]   # what an eavesdropper on the callback URL saw
    before, files_before = books(), len(phone.messages("lvming"))
    now_ms = int(time.time() * 1000)
    forged = {"conversationType": "1", "conversationId": "cidforged", "chatbotCorpId": DING_CORP,
              "robotCode": APP_KEY, "msgId": "msgforged0001", "senderStaffId": "lvming", "senderNick": "吕明",
              "createAt": now_ms, "msgtype": "text", "text": {"content": f"导出 审计 {permit.no}"}}
    answer = requests.post(f"{ding_http.app}/dingtalk/robot", json=forged, headers=captured, timeout=10)
    assert answer.status_code == 401 and answer.json()["code"] == "sign_replayed"
    drain()
    assert books() == before and len(phone.messages("lvming")) == files_before
    # The same admin asking for real, signed afresh by DingTalk, gets the export.
    phone.text("lvming", f"导出 审计 {permit.no}")
    drain()
    assert any(m["msgtype"] == "file" for m in phone.messages("lvming"))


def test_a_replayed_card_click_is_refused_before_dispatch_and_adds_nothing(ding_http):
    phone, drain = ding_http.phone, ding_http.drain
    permit, card = applied(phone, drain)
    clicked = phone.click("zhengji", card)
    assert clicked["status"] == 200
    drain()
    sent = clicked["attempts"][0]
    before, messages = books(), phone.messages("zhengji")
    calls = requests.get(f"{ding_http.dingtalk}/sandbox/stats", timeout=5).json()
    answer = requests.post(f"{ding_http.app}/dingtalk/card", json=sent["sent_body"], headers=sent["sent_headers"],
                           timeout=10)
    assert answer.status_code == 401 and answer.json()["code"] == "sign_replayed"
    drain()
    assert books() == before and phone.messages("zhengji") == messages
    assert requests.get(f"{ding_http.dingtalk}/sandbox/stats", timeout=5).json() == calls   # no update, no notice


def test_the_classic_event_subscription_is_answered_with_the_encrypted_success(ding_http):
    answer = requests.post(f"{ding_http.dingtalk}/sandbox/verify", timeout=10).json()
    assert answer["status"] == 200 and answer["reply_ok"] is True


# -- on site, exports, mixed plants ---------------------------------------------------------------

def test_scanning_the_site_code_in_dingtalk_checks_in_through_dingtalk_oauth(ding):
    permit, _ = applied(ding.phone, ding.drain)
    browser, board = ding.phone.open_code("wuhai", ding.phone.site_code(permit.no))
    assert board.status_code == 200 and "authCode=" not in board.url
    assert any("/oauth2/auth" in (r.headers.get("Location") or "") for r in board.history)
    assert "吴海 · 基层单位审批" in board.text
    assert ding.phone.scan("wuhai", permit.no) == 200
    row = CheckIn.get()
    assert (row.person.dingtalk_userid, row.source, row.kind) == ("wuhai", "scan", "in")
    # A code that came to another browser than the one that asked is refused.
    other = requests.get(f"{ding.app}/board/{permit.no}", params={
        "s": ding.phone.site_code(permit.no).split("s=")[1], "authCode": "stolen", "state": "x"})
    assert other.status_code == 403


def test_an_admin_exports_the_ledger_in_dingtalk_and_gets_the_file(ding):
    from tests.conftest import MORNING
    from workflow.walkthrough import run_to_close
    permit = run_to_close("hot_work", start=MORNING)
    ding.phone.text("lvming", f"导出 台账 {MORNING:%Y-%m}")
    ding.drain()
    files = [m for m in ding.phone.messages("lvming") if m["msgtype"] == "file"]
    assert len(files) == 1
    data = requests.get(f"{ding.dingtalk}/sandbox/dingtalk-media/{files[0]['content']['media_id']}", timeout=10)
    book = load_workbook(io.BytesIO(data.content))
    assert book["作业票台账"].cell(4, 1).value == permit.no
    card = [m for m in ding.phone.messages("lvming") if (m.get("task_id") or "").startswith("export-")][0]
    assert not card["state"]["interactive"] and card["state"]["card"]["title"].startswith("已生成")


def test_a_mixed_permit_reaches_each_person_on_their_own_app(plant, monkeypatch, redis_conn):
    from bot.registry import remember_platform
    with a_world("mixed", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        # The planner and the unit's approvers work in DingTalk, everyone else in WeCom.
        for account in ("zhengji", "wuhai", "shiwen"):
            remember_platform(Person.get(Person.wecom_userid == account), "dingtalk")
        ding_phone, wecom_phone = w.phone.phones["dingtalk"], w.phone.phones["wecom"]
        wecom_phone.text("zhuyan", apply_text())
        w.drain()
        permit = Permit.get()
        assert ding_phone.open_card("zhengji", f"{permit.no}-plan-") is not None
        assert wecom_phone.open_card("zhengji", f"{permit.no}-plan-") is None
        assert take_through(w.phone, permit.no, w.drain).state == "closed"
        channels = {s.person.wecom_userid: s.channel for s in Signature.select()}
        assert channels["zhengji"] == "dingtalk" and channels["wangping"] == "wecom"
        assert {e.data.get("channel") for e in AuditEvent.select().where(AuditEvent.action == "sign")} \
            >= {"wecom", "dingtalk"}
        assert audit.verify().ok


# -- batchSend's filtered recipients ----------------------------------------------------------------

def test_a_filtered_recipient_is_not_counted_as_delivered(ding, caplog):
    # 朱燕 has not authorised the robot's app: batchSend answers 200 and lists her as filtered.
    requests.post(f"{ding.dingtalk}/sandbox/config", json={"filtered": ["zhuyan"]}, timeout=5)
    ding.phone.text("zhuyan", "待办")
    everything_sent(ding)
    zhuyan = Person.get(Person.wecom_userid == "zhuyan")
    [row] = Outbox.select().where((Outbox.person == zhuyan) & (Outbox.kind == "reply"))
    assert row.state == "failed" and "未授权" in row.last_error and "filtered" in row.last_error
    assert not [m for m in ding.phone.messages("zhuyan") if m.get("direction") == "to_user"]
    assert any("filtered" in r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR"))


# -- a photo with a caption -------------------------------------------------------------------------

def test_a_photo_sent_with_a_caption_arrives_as_rich_text_and_is_attached(ding):
    from models import Attachment
    permit, _ = applied(ding.phone, ding.drain)
    take_through(ding.phone, permit.no, ding.drain, until="issued")
    answer = requests.post(f"{ding.dingtalk}/sandbox/image", data={"user": "zhuyan", "caption": "灭火器已就位"},
                           files={"media": ("灭火器.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")},
                           timeout=15).json()
    assert answer["status"] == 200
    sent = [m for m in requests.get(f"{ding.dingtalk}/sandbox/messages", params={"user": "zhuyan", "both": 1},
                                    timeout=5).json() if m.get("msgid") == answer["msg_id"]]
    assert sent and sent[0]["msgtype"] == "richText"
    ding.drain()
    assert Attachment.select().where(Attachment.permit == permit.id).exists()
    assert any("附言“灭火器已就位”已一并记录" in str(m.get("content")) for m in ding.phone.messages("zhuyan"))
    attached = AuditEvent.select().where(AuditEvent.action == "attach").order_by(AuditEvent.id.desc()).first()
    assert attached.data.get("caption") == "灭火器已就位"


def test_a_persons_choice_of_app_survives_a_redis_flush(plant, monkeypatch, redis_conn):
    with a_world("mixed", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        ding_phone, wecom_phone = w.phone.phones["dingtalk"], w.phone.phones["wecom"]
        ding_phone.text("zhengji", "帮助")      # the planner writes from DingTalk once
        w.drain()
        redis_conn.flushdb()                    # Redis's data is lost: queues, locks, caches, nothing more
        assert Person.get(Person.wecom_userid == "zhengji").platform == "dingtalk"
        wecom_phone.text("zhuyan", apply_text())
        w.drain()
        permit = Permit.get()
        assert ding_phone.open_card("zhengji", f"{permit.no}-plan-") is not None
        assert wecom_phone.open_card("zhengji", f"{permit.no}-plan-") is None
        wecom_phone.text("zhengji", "帮助")     # back in WeCom: the choice follows, in the database
        w.drain()
        assert Person.get(Person.wecom_userid == "zhengji").platform == "wecom"
