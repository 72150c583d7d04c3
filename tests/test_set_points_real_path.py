"""A detector's own set points end to end on both platforms: signed post → webhook → the detector's
set point, not the table's → alarm cards on the phones → the work stopped at its own second level."""
from __future__ import annotations

import pytest

from handlers.demo.scripted import Detector, take_through
from models import Alarm, Sensor
from models.permit import Permit

from tests.test_wecom_real_path import alarm_cards, applied, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
AIR = {"O2": 20.9, "EX": 0, "CO": 0}


def detector(phone, code: str, set_points: dict | None) -> Detector:
    sensor = Sensor.create(code=code, name="便携式四合一检测仪", area="常减压装置", kind="便携",
                           gases=["O2", "EX", "H2S", "CO"], interval_seconds=10, secret="s3cret-" + code,
                           unit=Permit.select().first().unit, set_points=set_points)
    return Detector(phone.app, sensor.code, sensor.secret, gases=list(sensor.gases))


@BOTH
def test_a_detector_alarms_at_its_own_set_points(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    own = detector(phone, "GD-0031", {"H2S": [5.0, 8.0]})
    no = take_through(phone, permit.no, drain, until="in_progress", detector=own).no

    # 6 mg/m³ of H2S: under the table's first alarm (10) and the permit's limit, over this detector's 5.
    answer = own.post({**AIR, "H2S": 6.0})
    assert answer.status_code == 200, answer.text
    drain()
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    assert (alarm.level, alarm.gas, alarm.value) == ("一级", "H2S", 6.0)
    assert "达到一级报警值 5" in alarm.text
    cards = alarm_cards(phone, alarm.id)
    assert phone.account(Permit.get(Permit.no == no).applicant) in cards
    assert Permit.get(Permit.no == no).state == "in_progress"   # a first alarm warns; it does not stop

    # 8 mg/m³ is this detector's second level: the work stops, though the table's second is 20.
    second = own.post({**AIR, "H2S": 8.0})
    drain()
    alarm = Alarm.get_by_id(second.json()["alarms"][0])
    assert alarm.level == "二级" and "达到二级报警值 8" in alarm.text
    assert Permit.get(Permit.no == no).state == "suspended"
