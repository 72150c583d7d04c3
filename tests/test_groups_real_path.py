"""Broadcasts to group chats on the real path: an emergency raised in chat reaches the place's WeCom group
robot and its DingTalk group through the outbox, a worker and each platform's real send API."""
from __future__ import annotations

import pytest
import requests

from models import Area, Outbox
from tests.worlds import world as a_world

KEY, CONVERSATION = "693a91f6-7c2e-4bc4-97a0-0ec2sifa5aaa", "cidGroupOf3TankFarm=="


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def posts(base: str) -> dict:
    return requests.get(f"{base}/sandbox/groups", timeout=5).json()["posts"]


def groups_made(w) -> None:
    # The unit names the WeCom group robot, the area itself its DingTalk group: each is found up the tree.
    Area.update(wecom_group=KEY).where(Area.name == "储运罐区").execute()
    Area.update(dingtalk_group=CONVERSATION).where(Area.name == "3#罐区").execute()
    requests.post(f"{w.wecom}/sandbox/groups", json={"groups": {KEY: "储运罐区安全群"}}, timeout=5)
    requests.post(f"{w.dingtalk}/sandbox/groups", json={"groups": {CONVERSATION: "3#罐区作业群"}}, timeout=5)


@pytest.mark.parametrize("world", ["wecom", "dingtalk", "wecom_ws"], indirect=True)
def test_an_emergency_reaches_the_areas_groups_on_both_platforms_once(world):
    w = world
    groups_made(w)
    w.phone.text("sunli", "应急 3#罐区 东侧法兰泄漏")
    w.drain()
    wecom, dingtalk = posts(w.wecom)[KEY], posts(w.dingtalk)[CONVERSATION]
    assert [p["msgtype"] for p in wecom] == ["markdown"] and "东侧法兰泄漏" in wecom[0]["content"]["content"]
    assert [p["msgtype"] for p in dingtalk] == ["markdown"] and "东侧法兰泄漏" in dingtalk[0]["content"]["text"]
    assert "【应急】3#罐区" in wecom[0]["content"]["content"]
    # A second report joins the open emergency: the groups were told once, and a sweep sends nothing again.
    w.phone.text("sunli", "应急 3#罐区 西侧也有泄漏")
    w.drain()
    w.drain()
    assert len(posts(w.wecom)[KEY]) == 1 and len(posts(w.dingtalk)[CONVERSATION]) == 1
    rows = list(Outbox.select().where(Outbox.kind == "group"))
    assert {r.payload["system"] for r in rows} == {"wecom", "dingtalk"} and len(rows) == 2
    assert all(r.state == "sent" and r.person_id is None for r in rows)


@pytest.mark.parametrize("world", ["wecom"], indirect=True)
def test_a_group_the_robot_is_not_in_fails_for_good_naming_why(world):
    w = world
    Area.update(wecom_group="no-such-key", dingtalk_group="cidNotJoined").where(Area.name == "3#罐区").execute()
    w.phone.text("sunli", "应急 3#罐区 东侧法兰泄漏")
    w.drain()
    rows = {r.payload["system"]: r for r in Outbox.select().where(Outbox.kind == "group")}
    assert rows["wecom"].state == "failed" and "93000" in rows["wecom"].last_error
    assert rows["dingtalk"].state == "failed" and "openConversationId" in rows["dingtalk"].last_error
    assert posts(w.wecom) == {} and posts(w.dingtalk) == {}
