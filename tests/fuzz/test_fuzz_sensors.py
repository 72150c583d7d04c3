"""Fuzz the detectors' webhook: single posts and gateway batches, signed with the right secret."""
from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from models import Department, Gateway, Sensor
from sensors.intake import sign

from tests.fuzz.conftest import stored

CODES = ["GD-0001", "GD-0002", "gd-0001", "GD-9999", "", "GD 0001", "../etc"]
GASES = ["O2", "EX", "H2S", "CO", "o2", "CO2", "", "X" * 50]
_now = datetime.now(timezone.utc)
MOMENTS = [_now.isoformat(), (_now - timedelta(seconds=1)).isoformat(), _now.replace(tzinfo=None).isoformat(),
           (_now + timedelta(days=1)).isoformat(), (_now - timedelta(days=3)).isoformat(), "9999-12-31T23:59:59+00:00",
           "0001-01-01T00:00:00+00:00", "not a time", ""]
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                   st.sampled_from([20.9, 0, 12.0, 25.0, "20.9", None, True, [], {}]), st.text(max_size=8))
_stamps = itertools.count(0)


@st.composite
def reading(draw) -> dict:
    item = {"device": draw(st.sampled_from(CODES) | st.text(max_size=10) | st.integers()),
            "ts": draw(st.sampled_from(MOMENTS) | st.datetimes(timezones=st.just(timezone.utc)).map(str)
                       | st.integers()),
            "values": draw(st.dictionaries(st.sampled_from(GASES) | st.text(max_size=4), NUMBER, max_size=5)
                           | NUMBER)}
    return {k: v for k, v in item.items() if draw(st.integers(0, 9))}


def fleet() -> None:
    """Register a gateway and two detectors under it, unless they are there."""
    if Sensor.select().exists():
        return
    unit = Department.select().first()
    hub = Gateway.create(code="GW-01", name="罐区控制器", secret="gw-secret")
    for code in ("GD-0001", "GD-0002"):
        Sensor.create(code=code, name="固定式检测仪", area="罐区", kind="固定", gases=["O2", "EX", "H2S", "CO"],
                      interval_seconds=10, secret=f"s-{code}", unit=unit, gateway=hub)


def post(client, path: str, body: bytes, *, secret: str, gateway: str | None = None):
    # Distinct timestamps within the allowed skew, so no two examples look like replays of each other.
    stamp = str(int(time.time()) - next(_stamps) % 200)
    headers = {"X-Timestamp": stamp, "X-Signature": sign(secret, stamp, body), "Content-Type": "application/json"}
    if gateway:
        headers["X-Gateway"] = gateway
    return client.post(path, data=body, headers=headers)


def check(answer, before: dict) -> None:
    assert answer.status_code < 500 or answer.status_code == 503, answer.get_data(as_text=True)[:300]
    if answer.status_code >= 400:
        error = answer.get_json()
        assert isinstance(error, dict) and error["error"] and error["message"], error
        assert stored() == before


@given(body=st.one_of(reading(), st.lists(reading(), max_size=3)).map(json.dumps).map(str.encode)
       | st.binary(max_size=300), secret=st.sampled_from(["s-GD-0001", "s-GD-0002", "wrong"]))
def test_any_signed_detector_post_is_answered_and_a_refusal_stores_nothing(fuzz_app, tried, body, secret):
    tried()
    fleet()
    before = stored()
    check(post(fuzz_app.test_client(), "/sensors/readings", body, secret=secret), before)


@given(batch=st.lists(reading(), max_size=6).map(json.dumps).map(str.encode) | st.binary(max_size=300),
       gateway=st.sampled_from(["GW-01", "gw-01", "GW-02", "", " "]),
       secret=st.sampled_from(["gw-secret", "wrong"]))
def test_any_signed_gateway_batch_is_answered_and_a_refusal_stores_nothing(fuzz_app, tried, batch, gateway, secret):
    tried()
    fleet()
    before = stored()
    check(post(fuzz_app.test_client(), "/sensors/gateway", batch, secret=secret, gateway=gateway), before)
