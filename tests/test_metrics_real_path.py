"""Metrics through the real path: callbacks from the sandboxes and an alarm relayed by the rq worker."""
from __future__ import annotations

import pytest
import requests

from models import Alarm

from tests.test_wecom_real_path import bound_detector
from tests.worlds import world as a_world


@pytest.fixture(params=["wecom", "dingtalk"])
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def scrape(base: str) -> dict[str, float]:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return {key: float(value) for key, _, value in (line.rpartition(" ") for line in text.splitlines()
                                                    if line and not line.startswith("#"))}


def test_callbacks_and_the_alarm_relay_are_measured_per_platform(world):
    platform = world.platform
    before = scrape(world.app)
    callbacks = f'permit_callback_seconds_count{{platform="{platform}"}}'
    relayed = f'permit_alarm_relay_seconds_count{{platform="{platform}"}}'
    device = bound_detector(world.phone, world.drain)   # two chat messages: apply, bind
    answer = device.post({"O2": 20.9, "EX": 0, "H2S": 12.0, "CO": 0})
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    mid = scrape(world.app)
    assert mid["permit_alarms_open"] == 1
    assert mid['permit_queue_depth{queue="alarm"}'] == len(alarm.recipients)   # not yet sent
    world.drain()
    after = scrape(world.app)
    assert after[callbacks] - before.get(callbacks, 0) == 2
    assert after[relayed] - before.get(relayed, 0) == len(alarm.recipients)
    assert after['permit_queue_depth{queue="alarm"}'] == 0
    other = "dingtalk" if platform == "wecom" else "wecom"
    assert after.get(f'permit_alarm_relay_seconds_count{{platform="{other}"}}', 0) == \
        before.get(f'permit_alarm_relay_seconds_count{{platform="{other}"}}', 0)
