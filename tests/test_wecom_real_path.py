"""The chat channels end to end: sandbox → encrypted callback (WeCom) or Stream frame (DingTalk) →
engine → database → rq worker on a real Redis → the real SDK clients → sandbox over HTTP."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

import settings
from handlers.demo.scripted import GOOD_AIR, Detector, Phone, take_through
from jobs import delivery
from bot import registry
from bot.base import PlatformError
from models import Alarm, AuditEvent, CardRecord, GasReading, Outbox, Person, Sensor, Signature, Step
from models.permit import Permit
from sensors.intake import sign
from workflow import assign as workflow_assign, audit, machine, template as templates

from tests.worlds import AES_KEY, AGENT, CORP, TOKEN, world as a_world

# The tests marked so run once per platform: the same handlers, engine and assertions on WeCom's
# encrypted XML callbacks and on DingTalk's Stream frames. The rest exercise WeCom's own protocol.
BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    """Start the sandboxes and the app on loopback; return (phone, drain, the platform's sandbox URL)."""
    with a_world(getattr(request, "param", "wecom"), plant=plant, monkeypatch=monkeypatch,
                 redis_conn=redis_conn) as w:
        yield w.phone, w.drain, w.sandbox


def window() -> tuple[str, str]:
    now = datetime.now(settings.current().plant_tz)
    return f"{now - timedelta(minutes=5):%Y-%m-%d %H:%M}", f"{now + timedelta(hours=4):%Y-%m-%d %H:%M}"


def apply_text(kind: str = "动火作业", extra: str = "级别: 二级\n介质: 甲烷") -> str:
    start, end = window()
    return (f"申请{kind}\n地点: 3#罐区东侧管廊\n内容: DN100 管线法兰焊接\n{extra}\n"
            f"开始: {start}\n结束: {end}\n作业人: jianghan,shenli\n监护人: chuwei")


def as_sent(message: dict) -> dict:
    """Read a card as it was first sent, on either platform: its button labels, items, big red words."""
    if message["msgtype"] == "template_card":   # WeCom keeps the sent card beside its current state
        card = message["card"]
        buttons = ([card["submit_button"]["text"]] if card["card_type"] == "vote_interaction"
                   else [b["text"] for b in card.get("button_list", [])])
        return {"buttons": buttons, "items": len(card.get("checkbox", {}).get("option_list", [])),
                "urgent": card.get("emphasis_content", {}).get("title"), "content": card}
    card = message["content"]["cardParamMap"]   # DingTalk: the variables it was created with
    return {"buttons": [b["text"] for b in json.loads(card["buttons"])], "items": len(json.loads(card["checklist"])),
            "urgent": card["emphasis"] if card["urgent"] == "true" else None, "content": card}


def cards_of(phone: Phone, user: str, no: str) -> list[dict]:
    return [m for m in phone.messages(user) if (m.get("task_id") or "").startswith(no)]


@BOTH
def test_a_hot_work_permit_goes_from_chat_application_to_close(world):
    phone, drain, _ = world
    answer = phone.text("zhuyan", apply_text())
    assert answer["status"] == 200
    drain()
    permit = Permit.get()
    assert permit.state == "in_approval"
    reply = [m for m in phone.messages("zhuyan") if m["msgtype"] == "text"][-1]
    assert "已提交" in reply["content"]["content"]
    plan_card = cards_of(phone, "zhengji", permit.no)[-1]
    assert phone.buttons(plan_card) == ["确认", "退回修改"]
    lines = []
    permit = take_through(phone, permit.no, drain, say=lines.append)
    assert permit.state == "closed"
    # Every signature came in through the platform it was clicked on, and the audit chain holds.
    assert {s.channel for s in Signature.select()} == {phone.platform}
    assert audit.verify().ok
    # The planner's card was settled in place once the step was done.
    settled = cards_of(phone, "zhengji", permit.no)[0]
    assert not settled["state"]["interactive"]


def applied(phone: Phone, drain) -> tuple[Permit, dict]:
    """Apply for the sample hot-work permit in chat; return it and the planner's card."""
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    return permit, phone.open_card("zhengji", f"{permit.no}-plan-")


@BOTH
def test_a_retried_callback_changes_nothing(world):
    phone, drain, _ = world
    permit, card = applied(phone, drain)
    answer = phone.click("zhengji", card, repeat=3)
    assert answer["status"] == 200
    drain()
    assert Signature.select().where(Signature.decision == "confirm").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 0


@pytest.mark.parametrize("world", ["wecom", "dingtalk", "wecom_ws"], indirect=True)   # 或签 over the socket too
def test_two_or_sign_approvers_at_once_one_wins_and_both_cards_are_settled(world):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    # Take the permit to the unit approval, where 吴海 and 施文 may each sign (或签).
    for _ in range(10):
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == "approve_unit":
            break
        take_one(phone, drain, permit.no)
    cards = {u: phone.open_card(u, f"{permit.no}-approve_unit-") for u in ("wuhai", "shiwen")}
    for account in cards:
        assert phone.scan(account, permit.no) == 200
    barrier, answers = threading.Barrier(2), {}

    def click(account):
        barrier.wait()
        answers[account] = phone.click(account, cards[account])

    threads = [threading.Thread(target=click, args=(a,)) for a in cards]
    [t.start() for t in threads]
    [t.join() for t in threads]
    drain()
    step = Step.get((Step.permit == permit) & (Step.key == "approve_unit"))
    assert Signature.select().where((Signature.step == step) & (Signature.decision == "approve")).count() == 1
    winner = Signature.get(Signature.step == step).person.name
    for account in cards:
        now = [m for m in phone.messages(account) if m["task_id"] == cards[account]["task_id"]][0]
        assert not now["state"]["interactive"]
        assert f"已由 {winner}" in str(now["state"]["card"])


def take_one(phone: Phone, drain, no: str) -> None:
    """Act once, on their phone, for whoever's turn it is."""
    permit = Permit.get(Permit.no == no)
    step = machine.active_step(permit)
    d = templates.get(permit.work_type).step(step.key)
    people = machine.assignees(step)
    if d.kind == "gas":
        phone.text(phone.account(people[0]), f"气体检测 {no} {GOOD_AIR}")
    for person in [] if d.kind == "gas" else people if d.mode == "all" else people[:1]:
        user = phone.account(person)
        phone.click(user, phone.open_card(user, f"{no}-{step.key}-r{step.round}-"))
    drain()


def test_random_platform_faults_still_deliver_every_card_once(world):
    phone, drain, base = world
    requests.post(f"{base}/sandbox/faults", json={"api": "message/send", "rate": 0.4,
                                                  "errcodes": [-1, 45009], "seed": 7})
    phone.text("zhuyan", apply_text())
    for _ in range(30):
        drain()
        Outbox.update(lease_until=None).where(Outbox.state == "pending").execute()  # skip the backoff wait
        if not delivery.due_rows():
            break
    assert {row.state for row in Outbox.select()} == {"sent"}
    task_ids = [m["task_id"] for u in ("zhengji", "zhuyan") for m in phone.messages(u) if m.get("task_id")]
    assert len(task_ids) == len(set(task_ids))


def test_a_worker_that_dies_after_sending_does_not_send_twice(world, monkeypatch):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    real_release = delivery._release

    def die_once(row, **kwargs):
        monkeypatch.setattr(delivery, "_release", real_release)
        raise SystemExit("worker killed between sending and recording it")

    monkeypatch.setattr(delivery, "_release", die_once)
    with pytest.raises(SystemExit):
        delivery.deliver(Outbox.select().order_by(Outbox.id).first().id)
    first = Outbox.select().order_by(Outbox.id).first()
    assert first.state == "sending"
    Outbox.update(lease_until=datetime(2000, 1, 1)).where(Outbox.id == first.id).execute()
    drain()
    assert Outbox.get_by_id(first.id).state == "sent"
    user = first.person.wecom_userid
    sent = [m for m in phone.messages(user) if (m.get("task_id") or "").endswith(f"-n{first.id}")]
    texts = [m for m in phone.messages(user) if m["msgtype"] == "text"]
    assert len(sent) + len(texts) == 1


@BOTH
def test_an_update_applied_but_answered_too_late_is_delivered_on_the_resend(world, monkeypatch):
    # The platform updated the card, but its answer never reached the worker (a read timeout): WeCom's
    # response code is spent by then, and the resend must still end the row sent, the card settled.
    phone, drain, _ = world
    permit, card = applied(phone, drain)
    real_update, lost = {}, []
    for kind in ("wecom", "dingtalk"):
        cls = type(registry.channel(kind))
        real_update[cls] = cls.update_card

        def answer_lost(self, *args, _real=real_update[cls], **kwargs):
            _real(self, *args, **kwargs)
            if not lost:
                lost.append(1)
                raise PlatformError("http", "ReadTimeout: the answer did not come in time", retryable=True)

        monkeypatch.setattr(cls, "update_card", answer_lost)
    phone.click("zhengji", card)
    drain()
    assert lost, "no card was updated"
    Outbox.update(lease_until=datetime(2000, 1, 1)).where(Outbox.state == "pending").execute()
    drain()
    assert [(r.kind, r.state, r.last_error) for r in Outbox.select().where(Outbox.state != "sent")] == []
    assert CardRecord.get(CardRecord.task_id == card["task_id"]).state == "settled"


@pytest.mark.parametrize("body, status", [
    (b"<xml><Encrypt>AAAA</Encrypt></xml>", 403),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]><xml>&b;</xml>", 400),
    (b"not xml at all", 400),
    (b"<xml>" + b"A" * 70000 + b"</xml>", 413),   # refused from Content-Length, before it is read
    ('<?xml version="1.0" encoding="GBK"?><xml><Encrypt>密文</Encrypt></xml>'.encode("gbk"), 400),
])
def test_bad_callbacks_are_refused_and_nothing_is_stored(world, body, status):
    _, _, base = world
    app_url = requests.get(f"{base}/sandbox/config").json()["callback_url"]
    before = (AuditEvent.select().count(), Outbox.select().count())
    answer = requests.post(app_url, params={"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n"},
                           data=body)
    assert answer.status_code == status
    assert "Traceback" not in answer.text
    assert (AuditEvent.select().count(), Outbox.select().count()) == before


def craft_click(base: str, user: str, task_id: str, key: str, *, later: int = 0, at: int | None = None,
                code: str = "rc-crafted") -> int:
    """Post a click as WeCom would for a card the sandbox would not let this user click.

    later shifts the click's time, at fixes it; code is the click's own response code, which WeCom
    mints afresh for every click and repeats only when it retries the same callback.
    """
    import time
    from sandbox.wecom_callback import Callbacks, click_xml
    app_url = requests.get(f"{base}/sandbox/config").json()["callback_url"]
    seal = Callbacks(token=TOKEN, aes_key=AES_KEY, corp_id=CORP, agent_id=AGENT)
    created = at if at is not None else int(time.time()) + later
    xml = click_xml(CORP, AGENT, {"user": user, "create_time": created, "event": "template_card_event",
                                  "key": key, "task_id": task_id, "card_type": "button_interaction",
                                  "response_code": code, "selected": []})
    params, body = seal.seal(xml, time.time())
    return requests.post(app_url, params=params, data=body).status_code


def test_a_click_by_the_wrong_person_or_on_a_stale_card_changes_nothing_and_says_why(world):
    phone, drain, base = world
    permit, card = applied(phone, drain)
    key = card["state"]["card"]["button_list"][0]["key"]
    version = Permit.get_by_id(permit.id).version
    assert craft_click(base, "lizheng", card["task_id"], key) == 200   # not the planner
    drain()
    assert Permit.get_by_id(permit.id).version == version
    said = [str(m["content"]) for m in phone.messages("lizheng")]
    assert any("不是“作业计划”的签字人" in text for text in said)
    phone.click("zhengji", card)
    drain()
    assert craft_click(base, "zhengji", card["task_id"], key, later=5) == 200   # the same card, later
    drain()
    said = [str(m["content"]) for m in phone.messages("zhengji")]
    assert any("未办理" in text and "已由 郑计" in text for text in said)
    assert Signature.select().where(Signature.decision == "confirm").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 2


def test_two_taps_in_the_same_second_are_both_handled_and_a_retry_of_one_is_not(world):
    import time
    phone, drain, base = world
    permit, card = applied(phone, drain)
    key = card["state"]["card"]["button_list"][0]["key"]
    second = int(time.time())
    for code in ("rc-tap-1", "rc-tap-2", "rc-tap-1"):   # 李正 is not the planner: each handled tap is refused
        assert craft_click(base, "lizheng", card["task_id"], key, at=second, code=code) == 200
    drain()
    told = [str(m["content"]) for m in phone.messages("lizheng") if "不是“作业计划”的签字人" in str(m["content"])]
    assert len(told) == 2
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 2
    assert Permit.get_by_id(permit.id).version == permit.version


@BOTH
def test_a_confined_space_permit_sends_each_step_to_its_signers_with_the_right_buttons(world):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text("受限空间作业", "介质: 甲烷\n受限空间名称: V-101 原料罐"))
    drain()
    # Confined space is monitored continuously: the gas tester binds a detector at the start.
    permit = take_through(phone, Permit.get().no, drain, detector=a_detector(phone))
    assert permit.state == "closed"
    expected = {"confirm": ["确认"], "approve": ["同意"], "checklist": ["提交"]}
    for step in Step.select().where(Step.permit == permit):
        d = templates.get(permit.work_type).step(step.key)
        for person in machine.assignees(step):
            sent = [m for m in phone.messages(phone.account(person))
                    if (m.get("task_id") or "").startswith(f"{permit.no}-{step.key}-r{step.round}-p{person.id}-")]
            assert sent, f"{person.name} got no card for {step.name}"
            card = as_sent(sent[0])
            if d.kind == "gas":
                assert not card["buttons"] and "气体检测" in str(card["content"])
            elif d.kind == "checklist":
                # WeCom's vote card holds only its submit button; DingTalk's also 退回修改 and 驳回.
                assert card["buttons"][0] == "提交" and card["items"] == len(d.checklist)
            else:
                assert card["buttons"][0] == expected[d.kind][0], (step.key, card["buttons"])


def test_scanning_the_site_code_in_wecom_knows_who_scanned_and_checks_them_in(world):
    from models import CheckIn
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    no = Permit.get().no
    browser, board = phone.open_code("wuhai", phone.site_code(no))
    # The WeCom browser went through the sandbox's OAuth page and came back without the code.
    assert [r.status_code for r in board.history] == [302, 302, 302, 302]
    assert "/connect/oauth2/authorize" in board.history[1].headers["Location"]
    assert board.status_code == 200 and "code=" not in board.url
    assert "吴海 · 申请人" not in board.text and "吴海 · 基层单位审批" in board.text
    assert not CheckIn.select().exists()          # opening the board is not checking in
    done = phone.visit("wuhai", no)
    assert done.status_code == 200 and "签到成功" in done.text
    row = CheckIn.get()
    assert (row.person.wecom_userid, row.source, row.kind, row.role) == ("wuhai", "scan", "in", "基层单位审批、关闭作业票")


def last_text(phone: Phone, user: str) -> str:
    return [m for m in phone.messages(user) if m["msgtype"] == "text"][-1]["content"]["content"]


@BOTH
def test_people_on_site_suspend_resume_and_rectify_from_chat(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    no = take_through(phone, permit.no, drain, until="in_progress").no
    phone.text("chuwei", f"暂停 {no} 风力加大")
    drain()
    assert Permit.get(Permit.no == no).state == "suspended" and "已暂停" in last_text(phone, "chuwei")
    stop = [m for m in phone.messages("jianghan") if "停止作业" in str(m["content"])]
    assert stop, "the crew is told to stop"
    phone.text("jianghan", f"恢复 {no}")            # a worker may not resume
    drain()
    assert Permit.get(Permit.no == no).state == "suspended"
    phone.text("chuwei", f"恢复 {no}")
    drain()
    assert Permit.get(Permit.no == no).state == "in_progress"
    take_through(phone, no, drain, until="completed")
    deadline = (datetime.now(settings.current().plant_tz) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    phone.text("yangshou", f"验收不通过 {no} {deadline} 现场未清理")
    drain()
    assert Permit.get(Permit.no == no).state == "rectifying"
    phone.text("jianghan", f"整改完成 {no}")
    drain()
    assert Permit.get(Permit.no == no).state == "completed"
    assert take_through(phone, no, drain).state == "closed"


@BOTH
def test_a_command_naming_an_unknown_permit_is_refused_in_chat(world):
    phone, drain, _ = world
    phone.text("chuwei", "恢复 DH-29991231-0001")
    drain()
    assert last_text(phone, "chuwei") == "未办理：没有编号为 DH-29991231-0001 的作业票"
    row = Outbox.get(Outbox.permit_no == "DH-29991231-0001")
    assert (row.state, row.last_error) == ("sent", None)
    assert not Outbox.select().where(Outbox.state != "sent").exists()
    refusal = AuditEvent.get(AuditEvent.action == "refused")
    assert refusal.data["reason"] == "没有编号为 DH-29991231-0001 的作业票"


@BOTH
def test_extension_and_withdrawal_from_chat(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    phone.text("zhuyan", f"撤销 {permit.no} 计划调整")
    drain()
    assert Permit.get_by_id(permit.id).state == "cancelled"
    phone.text("zhuyan", f"延期 {permit.no} 2026-11-24 20:00 焊口返修")
    drain()
    assert "未办理" in str(phone.messages("zhuyan")[-1]["content"])


def _parent_of(proc) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None   # the process ended while we looked


def test_a_worker_process_killed_mid_delivery_does_not_send_twice(world, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path
    phone, drain, base = world
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "2")
    # The platform takes 2 s to answer: long enough to kill the worker while WeCom is accepting.
    requests.post(f"{base}/sandbox/faults", json={"api": "message/send", "delay": 2.0, "times": 1})
    phone.text("zhuyan", apply_text())
    root = Path(__file__).resolve().parents[1]
    worker = [sys.executable, str(root / "app.py"), "worker", "--quiet", "--sweep-every", "0.5"]
    first = subprocess.Popen(worker, cwd=root)
    deadline = time.monotonic() + 30
    while not Outbox.select().where(Outbox.state == "sending").exists():
        assert time.monotonic() < deadline, "the worker never started sending"
        time.sleep(0.05)
    victim = Outbox.get(Outbox.state == "sending")
    # rq runs the job in a child that leaves the worker's session: kill it too, as a crash would.
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                and _parent_of(p) == first.pid]
    for pid in children + [first.pid]:
        os.kill(pid, signal.SIGKILL)
    first.wait()
    time.sleep(2.5)                      # the platform finishes accepting the send; the lease runs out
    assert Outbox.get_by_id(victim.id).state == "sending"
    second = subprocess.Popen(worker, cwd=root)
    try:
        deadline = time.monotonic() + 30
        while Outbox.select().where(Outbox.state != "sent").exists():
            assert time.monotonic() < deadline, "the restarted worker did not deliver everything"
            time.sleep(0.1)
    finally:
        second.terminate()
        second.wait()
    user = victim.person.wecom_userid
    mine = [m for m in phone.messages(user) if m["msgtype"] != "text" and m["task_id"].endswith(f"-n{victim.id}")]
    texts = [m for m in phone.messages(user) if m["msgtype"] == "text"]
    assert len(mine) + len(texts) == 1, "delivered exactly once"


@BOTH
def test_an_escalated_approval_reaches_the_next_person_who_signs_and_every_card_is_settled(world):
    from workflow import deadlines
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    for _ in range(10):
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == "approve_unit":
            break
        take_one(phone, drain, permit.no)
    deadlines.remind_due(step.remind_at)                         # half-time: a reminder card
    deadlines.escalate_due(step.escalate_at)                     # the limit: up the chain
    drain()
    prefix = f"{permit.no}-approve_unit-r{step.round}-"
    assert len([m for m in phone.messages("wuhai") if m["task_id"].startswith(prefix)]) == 2
    card = phone.open_card("lizheng", prefix)
    assert card is not None and "超时上报" in str(card["state"]["card"])
    reminder = [m for m in phone.messages("wuhai") if m["task_id"].startswith(prefix)][-1]
    assert "催办" in str(as_sent(reminder)["content"])
    assert phone.scan("lizheng", permit.no) == 200
    assert phone.click("lizheng", card)["status"] == 200
    drain()
    signed = Signature.get(Signature.step == step)
    assert signed.person.wecom_userid == "lizheng"
    for account in ("wuhai", "shiwen", "lizheng"):
        open_cards = [m for m in phone.messages(account) if m["task_id"].startswith(prefix)
                      and m["state"]["interactive"]]
        assert not open_cards, f"{account} still has a live card for a settled step"


# -- gas detectors: signed posts to the webhook, alarm cards on the phones ------------------------

def a_detector(phone: Phone, code: str = "GD-0012", gases=("O2", "EX", "H2S", "CO")) -> Detector:
    """Register a portable detector of the crew's unit and return the device that posts for it."""
    sensor = Sensor.create(code=code, name="便携式四合一检测仪", area="常减压装置", kind="便携",
                           gases=list(gases), interval_seconds=10, secret="s3cret-" + code,
                           unit=Permit.select().first().unit)
    return Detector(phone.app, sensor.code, sensor.secret, gases=list(gases))


def bound_detector(phone: Phone, drain) -> Detector:
    """Apply for the sample permit, register a detector and bind it in chat, as the applicant would."""
    permit, _ = applied(phone, drain)
    device = a_detector(phone)
    phone.text("zhuyan", f"绑定检测仪 {permit.no} {device.code}")
    drain()
    return device


def alarm_cards(phone: Phone, alarm_id: int) -> dict[str, list[dict]]:
    """Return each user's cards of the alarm."""
    found = {}
    for user in [p.wecom_userid for p in Person.select() if p.wecom_userid]:
        cards = [m for m in phone.messages(user) if (m.get("task_id") or "").startswith(f"alarm-{alarm_id}-")]
        if cards:
            found[user] = cards
    return found


@BOTH
def test_a_detector_alarm_reaches_the_right_phones_stops_the_work_and_resumes_on_clean_air(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    device = a_detector(phone)
    no = take_through(phone, permit.no, drain, until="in_progress", detector=device).no
    assert GasReading.select().where(GasReading.device == "GD-0012").count() == 1

    # CO 22 mg/m³ passes the first alarm (20) and the permit's own limit (< 20): the work stops.
    first = device.post({"O2": 20.9, "EX": 0, "H2S": 0, "CO": 22.0})
    assert first.status_code == 200, first.text
    drain()
    alarm = Alarm.get_by_id(first.json()["alarms"][0])
    p = Permit.get(Permit.no == no)
    expected = ({p.applicant.wecom_userid} | {m.person.wecom_userid for m in p.members}
                | {s.person.wecom_userid for s in Signature.select().where(Signature.decision == "approve")}
                | {u.wecom_userid for u in workflow_assign.org_role("安全员", "unit", p)})
    cards = alarm_cards(phone, alarm.id)
    assert set(cards) == expected
    assert all(len(c) == 1 for c in cards.values())
    assert phone.buttons(cards["chuwei"][0]) == ["确认收到"]
    assert Permit.get(Permit.no == no).state == "suspended"   # CO 22 ≥ the permit's 20 mg/m³ limit
    assert alarm.level == "超限" and alarm.suspended == [no]

    # The guardian confirms; his card turns into "已确认收到" and the re-sends stop.
    phone.click("chuwei", cards["chuwei"][0])
    drain()
    alarm = Alarm.get_by_id(alarm.id)
    assert alarm.acknowledged_by.wecom_userid == "chuwei" and alarm.resend_at is None
    assert not phone.open_card("chuwei", f"alarm-{alarm.id}-")

    # Resuming needs fresh clean air: refused while the newest reading fails, accepted after.
    phone.text("chuwei", f"恢复 {no}")
    drain()
    assert Permit.get(Permit.no == no).state == "suspended"
    assert device.post().status_code == 200
    assert Alarm.get_by_id(alarm.id).cleared_at is not None
    phone.text("chuwei", f"恢复 {no}")
    drain()
    assert Permit.get(Permit.no == no).state == "in_progress"

    # A second alarm suspends at once and says stop in red.
    second = device.post({"O2": 20.9, "EX": 0, "H2S": 25.0, "CO": 0})
    drain()
    alarm = Alarm.get_by_id(second.json()["alarms"][0])
    assert alarm.level == "二级" and Permit.get(Permit.no == no).state == "suspended"
    red = as_sent(alarm_cards(phone, alarm.id)["jianghan"][0])
    assert red["urgent"] == "立即停止作业"


def test_a_replayed_or_forged_detector_post_changes_nothing(world):
    phone, drain, _ = world
    device = bound_detector(phone, drain)
    body = json.dumps({"device": "GD-0012", "ts": datetime.now(timezone.utc).isoformat(),
                       "values": {"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0}}).encode()
    stamp = str(int(time.time()))
    headers = {"X-Timestamp": stamp, "X-Signature": sign(device.secret, stamp, body)}
    assert requests.post(device.url, data=body, headers=headers).status_code == 200
    again = requests.post(device.url, data=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "replayed"
    forged = requests.post(device.url, data=body, headers={**headers, "X-Signature": sign("guess", stamp, body)})
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"
    assert GasReading.select().where(GasReading.device == "GD-0012").count() == 1


def test_an_alarm_relayed_while_the_platform_says_45009_is_still_delivered(world):
    phone, drain, base = world
    device = bound_detector(phone, drain)
    requests.post(f"{base}/sandbox/faults", json={"api": "message/send", "rate": 1.0, "errcodes": [45009],
                                                  "times": 3})
    answer = device.post({"O2": 20.9, "EX": 0, "H2S": 12.0, "CO": 0})
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    for _ in range(10):
        drain()
        Outbox.update(lease_until=None).where(Outbox.state == "pending").execute()  # skip the backoff wait
        if not delivery.due_rows():
            break
    rows = Outbox.select().where(Outbox.kind == "alarm")
    assert rows.count() == len(alarm.recipients) and {r.state for r in rows} == {"sent"}
    assert set(alarm_cards(phone, alarm.id)) == {Person.get_by_id(i).wecom_userid for i in alarm.recipients}
