"""Webhooks out: the audit chain's events reach a subscriber signed, in order, once, and a failing or silent
target backs off without holding anything else."""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest

import settings
from jobs import webhooks
from models import Alarm, AuditEvent, Sensor, transaction, utcnow
from models.api import Webhook
from sensors import alarms
from sensors.intake import sign
from tests.jobs.receiver import Receiver
from workflow import audit


@pytest.fixture(autouse=True)
def redis_conn(redis_conn, redis_url, monkeypatch):
    """The jobs' Redis (locks, the queue) is the run's own, emptied for each test."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.configure()
    yield redis_conn
    settings.configure()


@pytest.fixture
def receiver():
    target = Receiver()
    yield target
    target.close()


def permit_event(no: str, action: str, state: str, seq_at=None) -> AuditEvent:
    with transaction():
        return audit.append(permit_no=no, actor="测试", action=action, data={"snapshot": {"state": state}},
                            at=seq_at or utcnow())


def test_a_subscriber_gets_state_changes_signed_and_in_order_and_not_the_rest(db, receiver, redis_conn):
    permit_event("DH-1", "create", "draft")        # before the subscription: not sent
    secret = webhooks.subscribe("ERP", receiver.url, ["permit.state_changed"])
    permit_event("DH-1", "submit", "approving")
    permit_event("DH-1", "sign", "approving")      # the same state: no change to report
    permit_event("DH-1", "sign", "issued")
    hook = Webhook.get()
    assert webhooks.deliver(hook.id) == 2
    bodies = [body for _, body in receiver.received]
    assert [(b["state"], b["previous_state"]) for b in bodies] == [("approving", "draft"), ("issued", "approving")]
    assert bodies[0]["id"] < bodies[1]["id"] and bodies[0]["type"] == "permit.state_changed"
    headers, body = receiver.received[0]
    assert headers["X-Signature"] == sign(secret, headers["X-Timestamp"], body["_raw"].encode())
    assert webhooks.deliver(hook.id) == 0 and len(receiver.received) == 2   # nothing twice
    assert Webhook.get().delivered == 2 and Webhook.get().last_status == 200


def test_a_failing_target_backs_off_and_gets_the_event_once_it_answers(db, receiver, redis_conn):
    webhooks.subscribe("ERP", receiver.url, ["permit.state_changed"])
    permit_event("DH-1", "submit", "approving")
    receiver.statuses += [500]
    hook = Webhook.get()
    now = utcnow()
    assert webhooks.deliver(hook.id, now.isoformat()) == 0
    failed = Webhook.get()
    assert failed.last_status == 500 and "500" in failed.last_error and failed.attempts == 1
    assert failed.next_attempt_at > now and webhooks.due(now) == []
    assert webhooks.due(failed.next_attempt_at) == [hook.id]
    assert webhooks.deliver(hook.id) == 1
    assert [b["state"] for _, b in receiver.received] == ["approving"]
    assert Webhook.get().attempts == 0 and Webhook.get().last_error == ""


def test_a_target_that_never_answers_times_out_and_holds_nothing_else(db, redis_conn, monkeypatch, receiver):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)    # accepts the connection and never answers
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "0.2")
    settings.configure()
    try:
        webhooks.subscribe("慢", f"http://127.0.0.1:{silent.getsockname()[1]}/", ["permit.state_changed"])
        webhooks.subscribe("快", receiver.url, ["permit.state_changed"])
        permit_event("DH-1", "submit", "approving")
        slow, fast = Webhook.get(Webhook.name == "慢"), Webhook.get(Webhook.name == "快")
        assert webhooks.deliver(slow.id) == 0
        assert "无响应" in Webhook.get_by_id(slow.id).last_error
        assert Webhook.get_by_id(slow.id).last_status is None
        assert webhooks.deliver(fast.id) == 1
    finally:
        silent.close()
        settings.configure()


def test_an_alarm_raised_and_cleared_is_posted_as_two_events(db, plant, receiver, redis_conn):
    webhooks.subscribe("调度", receiver.url, ["alarm.raised", "alarm.cleared"])
    sensor = Sensor.create(code="GD-0001", name="一号", area="3#罐区", kind="固定", gases=["H2S"],
                           interval_seconds=10, secret="s")
    now = utcnow()
    with transaction():
        alarms.raise_alarm(sensor=sensor, device="GD-0001", level="二级", text="H2S 25", permits=[],
                           reading_at=now, now=now, gas="H2S", value=25.0)
    with transaction():
        assert alarms.clear(sensor, now + timedelta(minutes=1)) == 1
    assert webhooks.deliver(Webhook.get().id) == 2
    kinds = [b["type"] for _, b in receiver.received]
    assert kinds == ["alarm.raised", "alarm.cleared"]
    assert receiver.received[1][1]["data"]["alarm"] == Alarm.get().id
    assert "recipients" not in receiver.received[0][1]["data"]   # person ids stay inside


def test_subscribing_refuses_unknown_events_and_bad_urls(db):
    with pytest.raises(webhooks.WebhookError, match="未知事件"):
        webhooks.subscribe("x", "http://127.0.0.1/", ["permit.exploded"])
    with pytest.raises(webhooks.WebhookError, match="http"):
        webhooks.subscribe("x", "ftp://127.0.0.1/", ["alarm.raised"])
    assert Webhook.select().count() == 0


def test_the_scan_queues_only_subscriptions_with_events_waiting(db, receiver, redis_conn):
    from rq import Queue
    webhooks.subscribe("ERP", receiver.url, ["permit.state_changed"])
    assert webhooks.enqueue_due(utcnow()) == 0
    permit_event("DH-1", "submit", "approving")
    assert webhooks.enqueue_due(utcnow()) == 1
    assert Queue("default", connection=redis_conn).count == 1


def test_a_finding_raised_and_closed_is_posted_as_two_events(db, plant, receiver, redis_conn):
    from hazards import findings
    from models import find_person
    webhooks.subscribe("安环平台", receiver.url, ["finding.raised", "finding.closed"])
    chuwei, jianghan = find_person("chuwei"), find_person("jianghan")
    f = findings.report("3#罐区 东侧消防通道被杂物堵塞", by=chuwei, via="api:巡检系统")
    findings.assign(f.no, "jianghan", utcnow() + timedelta(days=1), by=find_person("sunli"))
    findings.start(f.no, by=jianghan)
    findings.add_photo(f.no, by=jianghan, data=b"after")
    findings.rectify(f.no, "已清理", by=jianghan)
    findings.recheck(f.no, True, by=chuwei)
    assert webhooks.deliver(Webhook.get().id) == 2   # assigned, rectifying, photo and rectified are not asked for
    bodies = [body for _, body in receiver.received]
    assert [(b["type"], b["data"]["finding"], b["data"]["state"]) for b in bodies] == [
        ("finding.raised", f.no, "found"), ("finding.closed", f.no, "closed")]
    assert bodies[0]["actor"] == "api:巡检系统" and bodies[1]["actor"] == chuwei.label()
