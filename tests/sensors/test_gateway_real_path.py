"""A gateway's batch end to end, on WeCom and on DingTalk: signed POST over HTTP → Flask → bulk store
→ one alarm → rq worker on a real Redis → the real SDK client → the sandbox's phones, once each."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from models import Alarm, GasReading, Outbox, Person, ReadingRollup, Sensor, utcnow
from models.permit import Permit
from sensors import intake, registry, retention
from tests.sensors.conftest import GOOD_AIR
from tests.test_wecom_real_path import alarm_cards, applied
from tests.worlds import world as a_world

DETECTORS = 500
BOUND = "GD-0499"


@pytest.fixture(params=["wecom", "dingtalk"])
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


class Controller:
    """A gas-detection controller posting its detectors' readings in one signed batch, as the device would."""

    def __init__(self, app: str, code: str, secret: str, devices: list[str]):
        self.url, self.code, self.secret, self.devices = f"{app}/sensors/gateway", code, secret, devices
        self.last = 0

    def post(self, odd: dict[str, dict] | None = None) -> requests.Response:
        """Post one reading of every detector (good air, or odd[device]) stamped this second."""
        while int(time.time()) <= self.last:   # one reading per detector and second, as devices do
            time.sleep(0.05)
        self.last = int(time.time())
        ts = datetime.fromtimestamp(self.last, timezone.utc).isoformat()
        body = json.dumps([{"device": d, "ts": ts, "values": {**GOOD_AIR, **(odd or {}).get(d, {})}}
                           for d in self.devices]).encode()
        stamp = str(self.last)
        return requests.post(self.url, data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Gateway": self.code, "X-Timestamp": stamp,
            "X-Signature": intake.sign(self.secret, stamp, body)})


def test_a_batch_of_500_is_stored_and_its_one_alarm_reaches_every_phone_once(world):
    phone, drain = world.phone, world.drain
    permit, _ = applied(phone, drain)
    codes = [f"GD-{i:04d}" for i in range(DETECTORS)]
    Sensor.insert_many([dict(code=c, name=f"检测仪{c}", area=f"压测区{c}", kind="便携", gases=list(GOOD_AIR),
                             interval_seconds=1, secret=f"s-{c}", unit=permit.unit_id, created_at=utcnow())
                        for c in codes]).execute()
    controller = Controller(world.app, "GW-01", registry.register_gateway("GW-01", "一号控制器", codes), codes)
    phone.text("zhuyan", f"绑定检测仪 {permit.no} {BOUND}")
    drain()

    # H2S 25 mg/m³ is past the second alarm (20): one alarm, on the permit the detector watches.
    answer = controller.post({BOUND: {"H2S": 25.0}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == DETECTORS and len(answer.json()["alarms"]) == 1
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    assert (alarm.level, alarm.device, alarm.permit_nos) == ("二级", BOUND, [permit.no])
    assert GasReading.get(GasReading.device == BOUND).permit_id == permit.id
    assert GasReading.select().where(GasReading.permit.is_null()).count() == DETECTORS - 1

    drain()
    drain()   # a second pass of the worker sends nothing again
    cards = alarm_cards(phone, alarm.id)
    recipients = {Person.get_by_id(i).wecom_userid for i in alarm.recipients}
    assert set(cards) == recipients and len(recipients) >= 3
    assert all(len(sent) == 1 for sent in cards.values())
    rows = Outbox.select().where(Outbox.kind == "alarm")
    assert rows.count() == len(recipients) and {r.state for r in rows} == {"sent"}

    # The next, clean batch clears the alarm and raises nothing.
    again = controller.post()
    assert again.status_code == 200 and again.json()["alarms"] == []
    assert Alarm.get_by_id(alarm.id).cleared_at is not None
    assert Alarm.select().count() == 1

    # What the policy keeps, once the readings have aged: the bound detector's readings (evidence
    # for the permit); the 499 others' readings become per-minute rollups.
    retention.prune(utcnow() + timedelta(hours=3))
    assert [r.device for r in GasReading.select()] == [BOUND, BOUND]
    assert sum(r.count for r in ReadingRollup.select()) == 2 * (DETECTORS - 1)
    assert {r.device for r in ReadingRollup.select()} == set(codes) - {BOUND}
    assert Permit.get_by_id(permit.id).state == "in_approval"
