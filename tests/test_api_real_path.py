"""The open API over HTTP beside the chat: a permit applied for and signed in WeCom or DingTalk is read back
through /api/v1 with its steps, signatures and audit events; a finding posted by another system is handled
in chat and read back."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

import settings
from handlers.api import tokens
from models import utcnow
from tests.test_wecom_real_path import applied, world  # noqa: F401
from workflow.clock import local

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@BOTH
def test_a_permit_signed_in_chat_reads_back_through_the_api(world):
    phone, drain, _ = world
    permit, card = applied(phone, drain)
    assert phone.click("zhengji", card)["status"] == 200
    drain()
    auth = {"Authorization": f"Bearer {tokens.create('ERP', 'read')}"}
    listed = requests.get(f"{phone.app}/api/v1/permits", params={"type": "动火作业"}, headers=auth, timeout=10)
    assert listed.status_code == 200
    assert [p["no"] for p in listed.json()["items"]] == [permit.no]
    one = requests.get(f"{phone.app}/api/v1/permits/{permit.no}", headers=auth, timeout=10).json()
    assert one["steps"][0]["key"] == "plan" and one["steps"][0]["state"] == "done"
    [signature] = one["signatures"]
    assert signature["step"] == "plan" and signature["person"].startswith("郑计")
    assert signature["channel"] == world_channel(phone)
    assert {"create", "submit", "sign"} <= {e["action"] for e in one["events"]}


def world_channel(phone) -> str:
    return "dingtalk" if phone.__class__.__name__.startswith("DingTalk") else "wecom"


@BOTH
def test_a_revoked_token_is_refused_at_once_over_http(world):
    phone, _, _ = world
    raw = tokens.create("临时", "read")
    url = f"{phone.app}/api/v1/alarms"
    assert requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=10).status_code == 200
    tokens.revoke("临时")
    refused = requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


@BOTH
def test_a_subscriber_hears_of_a_permit_moving_in_chat(world):
    from jobs import scans
    from sensors.intake import sign
    from tests.jobs.receiver import Receiver
    from jobs import webhooks
    phone, drain, _ = world
    target = Receiver()
    try:
        secret = webhooks.subscribe("调度系统", target.url, ["permit.state_changed"])
        permit, card = applied(phone, drain)
        scans.run_all()    # the scheduler's tick queues the subscription's delivery as a job of its own
        drain()
        moves = [(body["permit_no"], body["previous_state"], body["state"]) for _, body in target.received]
        # Applying in chat creates the draft and submits it at once: two moves, in order.
        assert moves == [(permit.no, None, "draft"), (permit.no, "draft", permit.state)]
        headers, body = target.received[-1]
        assert headers["X-Signature"] == sign(secret, headers["X-Timestamp"], body["_raw"].encode())
    finally:
        target.close()


@BOTH
def test_a_finding_posted_through_the_api_is_assigned_in_chat_and_reads_back(world):
    phone, drain, _ = world
    auth = {"Authorization": f"Bearer {tokens.create('巡检系统', 'write')}", "Idempotency-Key": "round-7"}
    body = {"place": "3#罐区", "description": "东侧消防通道被杂物堵塞", "found_by": "褚卫"}
    posted = requests.post(f"{phone.app}/api/v1/findings", json=body, headers=auth, timeout=10)
    assert posted.status_code == 201, posted.text
    no = posted.json()["no"]
    drain()
    assert f"请指派整改：指派 {no}" in str(phone.messages("sunli")[-1])     # the area's safety officer, in chat
    due = local(utcnow() + timedelta(days=2), settings.current().plant_tz).strftime("%Y-%m-%d %H:%M")
    phone.text("sunli", f"指派 {no} jianghan {due}")
    drain()
    assert f"请整改隐患 {no}" in str(phone.messages("jianghan")[-1])
    one = requests.get(f"{phone.app}/api/v1/findings/{no}", headers=auth, timeout=10).json()
    assert (one["state"], one["responsible"].split("(")[0]) == ("assigned", "蒋焊")


@BOTH
def test_a_park_enterprises_token_over_http_never_reaches_the_permit_applied_in_chat(world, enterprise_url):
    from park import enterprises
    phone, drain, _ = world
    permit, _card = applied(phone, drain)
    enterprises.add("yi", "乙化工", enterprise_url("yi"))
    yi = {"Authorization": f"Bearer {tokens.create('园区安全办', 'read', enterprise='yi')}"}
    home = {"Authorization": f"Bearer {tokens.create('本厂看板', 'read')}"}
    for _ in range(2):   # the server's threads are reused: a binding left behind would show on the second round
        assert requests.get(f"{phone.app}/api/v1/permits", headers=yi, timeout=10).json()["items"] == []
        assert requests.get(f"{phone.app}/api/v1/permits/{permit.no}", headers=yi, timeout=10).status_code == 404
        mine = requests.get(f"{phone.app}/api/v1/permits", headers=home, timeout=10).json()["items"]
        assert [p["no"] for p in mine] == [permit.no]
