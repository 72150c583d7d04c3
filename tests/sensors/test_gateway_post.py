"""POST /sensors/gateway through the Flask app: a controller's signed batch of many detectors' readings.

A bad batch is refused whole with a named error that points at the reading, and leaves nothing
behind; a good one is stored in bulk, and a binding made between two batches counts at once.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Alarm, GasReading, Sensor, utcnow
from sensors import gateway, intake, registry
from tests.sensors.conftest import GOOD_AIR, body_of, footprint, iso, stamp

CLEAN = dict(GOOD_AIR)


def headers_for(code: str, secret: str, body: bytes, at=None) -> dict:
    """The headers a gateway sends: its code, the time, and its HMAC over both."""
    at = at or utcnow()
    return {"Content-Type": "application/json", "X-Gateway": code, "X-Timestamp": stamp(at),
            "X-Signature": intake.sign(secret, stamp(at), body)}


def items(codes, at=None, **values) -> list[dict]:
    return [{"device": code, "ts": iso(at or utcnow()), "values": {**CLEAN, **values}} for code in codes]


@pytest.fixture
def fleet(site):
    """Twelve fixed detectors behind gateway GW-01, and one more behind GW-02."""
    codes = [f"FD-{i:03d}" for i in range(12)]
    for code in codes + ["FD-900"]:
        site.detector(code, kind="固定", area=f"罐区{code}", interval=1)
    secret = registry.register_gateway("GW-01", "一号控制器", codes)
    other = registry.register_gateway("GW-02", "二号控制器", ["FD-900"])
    return codes, secret, other


def post(client, body: bytes, headers: dict):
    return client.post("/sensors/gateway", data=body, headers=headers)


def refused(client, body: bytes, headers: dict, status: int, code: str) -> dict:
    before = footprint()
    answer = post(client, body, headers)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code), answer.get_json()
    assert footprint() == before
    return answer.get_json()


def test_a_clean_batch_is_stored_in_one_post(client, fleet):
    codes, secret, _ = fleet
    body = body_of(items(codes))
    answer = post(client, body, headers_for("GW-01", secret, body))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"stored": 12, "alarms": [], "suspended": []}
    assert sorted(r.device for r in GasReading.select()) == codes
    assert all(s.last_seen_at is not None for s in Sensor.select().where(Sensor.code.in_(codes)))


def test_a_detector_of_another_gateway_refuses_the_whole_batch_naming_it(client, fleet):
    codes, secret, _ = fleet
    body = body_of(items(codes[:3] + ["FD-900"] + codes[3:]))
    error = refused(client, body, headers_for("GW-01", secret, body), 403, "foreign_device")
    assert (error["index"], error["device"]) == (3, "FD-900")
    assert "第 4 条读数（FD-900）" in error["message"] and "GW-01" in error["message"]


def test_an_unregistered_detector_is_refused_as_foreign(client, fleet):
    codes, secret, _ = fleet
    body = body_of(items(["FD-777"]))
    error = refused(client, body, headers_for("GW-01", secret, body), 403, "foreign_device")
    assert error["device"] == "FD-777"


def test_one_bad_reading_refuses_the_batch_and_names_it(client, fleet):
    codes, secret, _ = fleet
    batch = items(codes) + items(["FD-005"], H2S=-1.0)
    batch[7]["values"]["H2S"] = -3.0
    body = body_of(batch)
    error = refused(client, body, headers_for("GW-01", secret, body), 422, "invalid_value")
    assert (error["index"], error["device"]) == (7, "FD-007")
    assert error["message"].startswith("第 8 条读数（FD-007）：") and "负数" in error["message"]


def test_an_alarming_reading_in_a_refused_batch_raises_nothing(client, fleet):
    codes, secret, _ = fleet
    batch = items(codes[:2], H2S=30.0) + [{"device": codes[2], "ts": "yesterday", "values": CLEAN}]
    body = body_of(batch)
    error = refused(client, body, headers_for("GW-01", secret, body), 400, "bad_ts")
    assert (error["index"], error["device"]) == (2, codes[2])
    assert Alarm.select().count() == 0


def test_the_same_reading_twice_in_a_batch_is_refused(client, fleet):
    codes, secret, _ = fleet
    at = utcnow()
    body = body_of(items(codes[:2], at) + items(codes[1:2], at))
    error = refused(client, body, headers_for("GW-01", secret, body), 400, "duplicate_reading")
    assert (error["index"], error["device"]) == (2, codes[1])


def test_a_batch_over_the_item_limit_is_refused_413(client, fleet, monkeypatch):
    codes, secret, _ = fleet
    monkeypatch.setattr(gateway, "MAX_ITEMS", 10)
    body = body_of(items(codes))
    error = refused(client, body, headers_for("GW-01", secret, body), 413, "bad_batch")
    assert "1–10" in error["message"] and "12" in error["message"]


def test_a_body_over_the_size_limit_is_refused_413_before_it_is_read(client, fleet):
    codes, secret, _ = fleet
    body = b"[" + b" " * gateway.MAX_BODY + b"]"
    refused(client, body, headers_for("GW-01", secret, body), 413, "body_too_large")


@pytest.mark.parametrize("change, code", [
    (lambda h: h.pop("X-Gateway"), "missing_gateway"),
    (lambda h: h.update({"X-Gateway": "GW-99"}), "unknown_gateway"),
    (lambda h: h.update({"X-Signature": intake.sign("0" * 32, h["X-Timestamp"], b"[]")}), "bad_signature"),
    (lambda h: h.update({"X-Gateway": "GW-02"}), "bad_signature"),
    (lambda h: h.pop("X-Signature"), "missing_signature"),
])
def test_a_batch_not_signed_by_its_gateway_is_refused(client, fleet, change, code):
    codes, secret, _ = fleet
    body = body_of(items(codes))
    headers = headers_for("GW-01", secret, body)
    change(headers)
    refused(client, body, headers, 401, code)


def test_a_stale_batch_is_refused(client, fleet):
    codes, secret, _ = fleet
    at = utcnow() - timedelta(seconds=400)
    body = body_of(items(codes, at))
    refused(client, body, headers_for("GW-01", secret, body, at), 401, "stale_timestamp")


def test_a_replayed_batch_is_refused_and_stores_nothing_twice(client, fleet):
    codes, secret, _ = fleet
    body = body_of(items(codes))
    headers = headers_for("GW-01", secret, body)
    assert post(client, body, headers).status_code == 200
    error = refused(client, body, headers, 409, "replayed")
    assert error["device"] == codes[0]
    assert GasReading.select().count() == 12


def test_binding_a_detector_counts_from_its_next_reading(client, site, fleet):
    codes, secret, _ = fleet
    permit = site.issued("confined_space")
    first = utcnow() - timedelta(seconds=5)
    body = body_of(items(codes, first))
    assert post(client, body, headers_for("GW-01", secret, body, first)).status_code == 200
    assert GasReading.get(GasReading.device == "FD-004").permit is None

    site.bind(permit, Sensor.get(Sensor.code == "FD-004"))   # as 绑定检测仪 in chat would

    second = first + timedelta(seconds=1)
    body = body_of(items(codes, second))
    answer = post(client, body, headers_for("GW-01", secret, body, second))
    assert answer.status_code == 200 and answer.get_json()["stored"] == 12
    newest = GasReading.get((GasReading.device == "FD-004") & (GasReading.taken_at == second))
    assert newest.permit_id == permit.id and newest.passed is not None


def test_a_batch_nested_thousands_deep_is_refused_not_a_server_error(client, fleet):
    _codes, secret, _ = fleet
    body = b"[" * 5000 + b"]" * 5000
    error = refused(client, body, headers_for("GW-01", secret, body), 400, "malformed_json")
    assert error["message"] == "请求体不是合法的读数：JSON 嵌套过深"
