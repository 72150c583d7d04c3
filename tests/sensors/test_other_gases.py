"""Gases beyond O2/EX/H2S/CO: a detector of any gas in workflow/gases.toml posts, is stored, and alarms
at its own or the table's set points; an unknown gas code is refused naming the field."""
from __future__ import annotations

import pytest

from models import Alarm, GasReading, ReadingRollup, utcnow
from sensors import levels, registry, retention
from tests.sensors.conftest import body_of, iso, signed
from tests.sensors.test_gateway_post import headers_for
from tests.sensors.test_gateway_post import refused as gateway_refused
from tests.sensors.test_sensor_post import refused

AIR = {"O2": 20.9, "EX": 0.0}


@pytest.fixture
def nh3(site):
    """A detector of oxygen, combustible gas, ammonia and chlorine, as an ammonia plant hangs up."""
    return site.detector("GD-0040", gases=["O2", "EX", "NH3", "CL2"])


def test_the_table_s_gases_alarm_at_the_table_s_set_points():
    # NH3: GBZ 2.1 PC-STEL 30 mg/m³, so the first alarm at 30 and the second at 60 (GB/T 50493).
    assert [t.level for t in levels.trips({"NH3": 29.9})] == []
    assert [(t.gas, t.level) for t in levels.trips({"NH3": 30.0})] == [("NH3", "一级")]
    assert [(t.gas, t.level) for t in levels.trips({"NH3": 60.0, "CL2": 1.0})] == [("NH3", "二级"), ("CL2", "一级")]
    assert "氨 60 mg/m³，达到二级报警值 60" in levels.trips({"NH3": 60.0})[0].text
    # A detector's own, tighter set point wins over the table's.
    assert [t.level for t in levels.trips({"NH3": 25.0}, {"NH3": [20.0, 40.0]})] == ["一级"]


def test_a_reading_above_what_the_gas_can_physically_be_is_refused_and_one_below_is_taken():
    assert levels.check_value("NH3", 700_000) == 700_000
    with pytest.raises(ValueError, match="氨（NH3）读数 800000 mg/m³ 超出物理可能"):
        levels.check_value("NH3", 800_000)


def test_an_ammonia_reading_is_stored_beside_the_four_columns(client, nh3):
    sent = {**AIR, "NH3": 5.5, "CL2": 0.2}
    body = body_of([{"device": nh3.code, "ts": iso(utcnow()), "values": sent}])
    answer = client.post("/sensors/readings", data=body, headers=signed(body, nh3.secret, utcnow()))
    assert (answer.status_code, answer.get_json()["alarms"]) == (200, [])
    (stored,) = GasReading.select()
    assert (stored.o2, stored.ex, stored.h2s, stored.co) == (20.9, 0.0, None, None)
    assert stored.others == {"NH3": 5.5, "CL2": 0.2}


def test_an_ammonia_alarm_is_raised_through_the_webhook(client, nh3):
    body = body_of([{"device": nh3.code, "ts": iso(utcnow()), "values": {**AIR, "NH3": 65.0, "CL2": 0.0}}])
    answer = client.post("/sensors/readings", data=body, headers=signed(body, nh3.secret, utcnow()))
    assert answer.status_code == 200, answer.get_json()
    alarm = Alarm.get_by_id(answer.get_json()["alarms"][0])
    assert (alarm.level, alarm.gas, alarm.value) == ("二级", "NH3", 65.0)
    assert "氨 65 mg/m³" in alarm.text


def test_an_unknown_gas_code_is_refused_naming_the_field(client, nh3):
    body = body_of([{"device": nh3.code, "ts": iso(utcnow()), "values": {**AIR, "HCHO": 1.0}}])
    answer = client.post("/sensors/readings", data=body, headers=signed(body, nh3.secret, utcnow()))
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "values.HCHO" and "HCHO" in answer.get_json()["message"]
    assert GasReading.select().count() == 0


def test_a_table_gas_the_detector_does_not_measure_is_refused_naming_the_field(client, nh3):
    body = body_of([{"device": nh3.code, "ts": iso(utcnow()), "values": {**AIR, "SO2": 1.0}}])
    refused(client, body, signed(body, nh3.secret, utcnow()), 422, "unregistered_gas")


def test_a_gateway_batch_carries_other_gases_and_refuses_an_unknown_one(client, site):
    for code in ("FD-101", "FD-102"):
        site.detector(code, kind="固定", area=f"液氨罐区{code}", gases=["O2", "NH3", "SO2"], interval=1)
    secret = registry.register_gateway("GW-09", "液氨罐区控制器", ["FD-101", "FD-102"])
    now = utcnow()
    good = [{"device": "FD-101", "ts": iso(now), "values": {"O2": 20.9, "NH3": 1.0, "SO2": 0.0}},
            {"device": "FD-102", "ts": iso(now), "values": {"O2": 20.9, "NH3": 31.0, "SO2": 2.0}}]
    body = body_of(good)
    answer = client.post("/sensors/gateway", data=body, headers=headers_for("GW-09", secret, body))
    assert answer.status_code == 200, answer.get_json()
    assert {r.device: r.others for r in GasReading.select()} == {"FD-101": {"NH3": 1.0, "SO2": 0.0},
                                                                 "FD-102": {"NH3": 31.0, "SO2": 2.0}}
    (alarm,) = Alarm.select()
    assert (alarm.device, alarm.level, alarm.gas) == ("FD-102", "一级", "NH3")

    later = utcnow()
    bad = [{"device": "FD-101", "ts": iso(later), "values": {"O2": 20.9, "NH3": 1.0}},
           {"device": "FD-102", "ts": iso(later), "values": {"O2": 20.9, "XE": 1.0}}]
    body = body_of(bad)
    answer = gateway_refused(client, body, headers_for("GW-09", secret, body, later), 422, "unknown_gas")
    assert (answer["index"], answer["device"], answer["field"]) == (1, "FD-102", "values.XE")


def test_pruned_readings_of_other_gases_are_rolled_up_with_them(site, nh3):
    start = site.clock.now
    for seconds, value in ((0, 2.0), (20, 6.0), (40, 4.0)):
        at = start.replace(second=seconds)
        site.report(nh3, at, NH3=value)
    retention.prune(now=start.replace(second=0) + retention.windows()[1] * 2)
    rollup = ReadingRollup.get()
    assert rollup.count == 3 and rollup.others == {"NH3": [2.0, 6.0, 4.0], "CL2": [0.0, 0.0, 0.0]}
