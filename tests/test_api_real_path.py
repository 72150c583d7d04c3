"""The open API over HTTP beside the chat: a permit applied for and signed in WeCom or DingTalk is read back
through /api/v1 with its steps, signatures and audit events."""
from __future__ import annotations

import pytest
import requests

from handlers.api import tokens
from tests.test_wecom_real_path import applied, world  # noqa: F401

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
