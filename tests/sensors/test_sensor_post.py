"""POST /sensors/readings through the Flask app: every bad post is refused with a named error and
leaves no reading, alarm or message behind; a good one is stored and its alarm cards are queued."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue

from jobs import alarm_queue
from models import Alarm, GasReading, Outbox, utcnow
from tests.sensors.conftest import Site, body_of, footprint, iso, reload, signed

# Past the second alarm (H2S 20 mg/m³): if any refused post were stored, an alarm would show it.
DANGER = {"O2": 20.9, "EX": 0.0, "H2S": 25.0, "CO": 0.0}


def reading(code: str = "GD-0001", at=None, **values) -> dict:
    return {"device": code, "ts": iso(at or utcnow()), "values": {**DANGER, **values}}


def post(client, body: bytes, headers: dict):
    return client.post("/sensors/readings", data=body, headers=headers)


def refused(client, body: bytes, headers: dict, status: int, code: str):
    """Post, assert the named refusal and that nothing at all was stored; return the message."""
    before = footprint()
    answer = post(client, body, headers)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code), answer.get_json()
    assert footprint() == before
    return answer.get_json()["message"]


@pytest.fixture
def gd(site):
    """A registered, enabled four-gas detector that watches no permit."""
    return site.detector("GD-0001")


# --- who is posting ---

def test_a_post_without_a_signature_is_refused(client, gd):
    body = body_of([reading()])
    headers = signed(body, gd.secret, utcnow())
    del headers["X-Signature"]
    refused(client, body, headers, 401, "missing_signature")


def test_a_post_signed_with_another_secret_is_refused(client, gd):
    body = body_of([reading()])
    refused(client, body, signed(body, "0" * 32, utcnow()), 401, "bad_signature")


def test_a_signature_over_another_body_is_refused(client, gd):
    body = body_of([reading()])
    headers = signed(body_of([reading(H2S=0.0)]), gd.secret, utcnow())
    refused(client, body, headers, 401, "bad_signature")


def test_an_unregistered_device_is_refused(client, gd):
    body = body_of([reading("GD-9999")])
    message = refused(client, body, signed(body, gd.secret, utcnow()), 401, "unknown_device")
    assert "GD-9999" in message


def test_a_disabled_device_is_refused_even_when_correctly_signed(client, site):
    off = site.detector("GD-0002", enabled=False)
    body = body_of([reading("GD-0002")])
    refused(client, body, signed(body, off.secret, utcnow()), 403, "device_disabled")


# X-Timestamp is whole seconds: a future stamp loses up to a second to truncation, and more while the
# request is in flight, so 301 s ahead can arrive as 300 (allowed). A stale one only grows older.
@pytest.mark.parametrize("offset, code", [(-301, "stale_timestamp"), (310, "future_timestamp")])
def test_an_x_timestamp_beyond_the_allowed_skew_is_refused(client, gd, offset, code):
    body = body_of([reading()])
    refused(client, body, signed(body, gd.secret, utcnow() + timedelta(seconds=offset)), 401, code)


def test_an_x_timestamp_within_the_skew_is_accepted(client, gd):
    sent = reading(H2S=1.0)
    body = body_of([sent])
    answer = post(client, body, signed(body, gd.secret, utcnow() - timedelta(seconds=240)))
    assert (answer.status_code, answer.get_json()) == (200, {"stored": 1, "alarms": [], "suspended": []})
    (stored,) = GasReading.select()
    assert (stored.device, stored.permit, iso(stored.taken_at)) == ("GD-0001", None, sent["ts"])
    assert (stored.o2, stored.ex, stored.h2s, stored.co) == (20.9, 0.0, 1.0, 0.0)
    assert (Alarm.select().count(), Outbox.select().count()) == (0, 0)   # clean air: nothing else was stored


# --- what is posted ---

def test_malformed_json_is_refused(client, gd):
    body = b'[{"device": "GD-0001", "ts": '
    refused(client, body, signed(body, gd.secret, utcnow()), 400, "malformed_json")


def test_a_body_over_64_kb_is_refused_before_it_is_read(client, gd):
    body = body_of([reading()]) + b" " * (64 * 1024)
    assert len(body) > 64 * 1024
    refused(client, body, signed(body, gd.secret, utcnow()), 413, "body_too_large")


def test_an_unknown_gas_key_is_refused(client, gd):
    body = body_of([reading(HCHO=3.0)])
    message = refused(client, body, signed(body, gd.secret, utcnow()), 422, "unknown_gas")
    assert "HCHO" in message


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_json_number_is_refused(client, gd, token):
    # Python's json writes these tokens and reads them back as floats: they must never reach a verdict.
    text = body_of([reading(CO=0.0)]).decode().replace('"CO": 0.0', f'"CO": {token}')
    assert token in text
    body = text.encode()
    refused(client, body, signed(body, gd.secret, utcnow()), 422, "invalid_value")


@pytest.mark.parametrize("values", [{"H2S": -0.1}, {"O2": 100.1}], ids=["negative", "o2-over-100"])
def test_a_physically_impossible_value_is_refused(client, gd, values):
    body = body_of([reading(**values)])
    refused(client, body, signed(body, gd.secret, utcnow()), 422, "invalid_value")


@pytest.mark.parametrize("digits, code", [(400, "invalid_value"), (5000, "malformed_json")],
                         ids=["too-big-for-a-float", "too-long-for-python"])
def test_an_integer_of_hundreds_of_digits_is_refused_not_a_server_error(client, gd, digits, code):
    text = body_of([reading(CO=0)]).decode().replace('"CO": 0', f'"CO": 1{"0" * digits}')
    body = text.encode()
    refused(client, body, signed(body, gd.secret, utcnow()), 422 if code == "invalid_value" else 400, code)


def test_a_gas_given_twice_is_refused_rather_than_the_last_value_kept(client, gd):
    # Keeping the last of H2S 25 and h2s 0 would store clean air and hide a second alarm.
    body = body_of([reading(h2s=0.0)])
    refused(client, body, signed(body, gd.secret, utcnow()), 422, "duplicate_gas")
    text = body_of([reading()]).decode().replace('"H2S": 25.0', '"H2S": 25.0, "H2S": 0.0')
    body = text.encode()
    refused(client, body, signed(body, gd.secret, utcnow()), 400, "malformed_json")


@pytest.mark.parametrize("value", ["", "soon", "-60", "9" * 400])
def test_an_x_timestamp_that_is_not_unix_seconds_is_refused(client, gd, value):
    body = body_of([reading()])
    headers = {**signed(body, gd.secret, utcnow()), "X-Timestamp": value}
    refused(client, body, headers, 401, "missing_timestamp")


def test_one_bad_reading_refuses_the_whole_batch(client, gd):
    now = utcnow()
    batch = [reading(at=now - timedelta(seconds=120)), reading(at=now - timedelta(seconds=60)),
             reading(at=now, EX=-1.0)]
    body = body_of(batch)
    message = refused(client, body, signed(body, gd.secret, now), 422, "invalid_value")
    assert "第 3 条" in message


def test_a_batch_of_two_devices_is_refused(client, site, gd):
    site.detector("GD-0002")
    body = body_of([reading("GD-0001"), reading("GD-0002")])
    refused(client, body, signed(body, gd.secret, utcnow()), 400, "mixed_devices")


def test_a_replayed_body_is_stored_once(client, gd):
    now = utcnow()
    body = body_of([reading(at=now - timedelta(seconds=60), H2S=0.0), reading(at=now, H2S=0.0)])
    headers = signed(body, gd.secret, now)
    first = post(client, body, headers)
    assert (first.status_code, first.get_json()) == (200, {"stored": 2, "alarms": [], "suspended": []})
    message = refused(client, body, headers, 409, "replayed")
    assert "重复" in message
    assert GasReading.select().where(GasReading.device == "GD-0001").count() == 2


# --- what a good post does ---

def test_a_second_alarm_posted_over_http_suspends_the_running_permit_and_queues_its_cards(
        client, plant, redis_conn):
    # The app reads the real clock, so this permit runs on it: planned to start 20 minutes ago.
    now = utcnow()
    site = Site(start=now - timedelta(minutes=20))
    permit = site.running("confined_space")
    walk = site.walk_detector()
    before = Outbox.select().count()
    body = body_of([reading(walk.code, at=now)])
    answer = post(client, body, signed(body, walk.secret, now))
    assert answer.status_code == 200, answer.get_json()
    alarm = Alarm.get()
    assert answer.get_json() == {"stored": 1, "alarms": [alarm.id], "suspended": [permit.no]}
    assert alarm.level == "二级" and alarm.device == walk.code and alarm.suspended == [permit.no]
    assert reload(permit).state == "suspended"
    cards = [row.id for row in Outbox.select().where(Outbox.kind == "alarm").order_by(Outbox.id)]
    assert len(cards) == Outbox.select().count() - before == len(alarm.recipients)
    # Each card's id on the alarm lane's list in the real Redis: none waits behind ordinary mail.
    queued = [int(i) for i in redis_conn.lrange(alarm_queue.KEY, 0, -1)]
    assert queued == cards
    assert Queue("deliver", connection=redis_conn).count == 0


def test_the_alarm_page_shows_an_alarm_with_no_permit(client, gd):
    now = utcnow()
    body = body_of([reading(at=now)])
    assert post(client, body, signed(body, gd.secret, now)).status_code == 200
    alarm = Alarm.get()
    page = client.get(f"/alarms/{alarm.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "二级报警" in text and "GD-0001" in text and "尚无人确认" in text
    assert client.get(f"/alarms/{alarm.id + 1}").status_code == 404


def test_json_nested_thousands_deep_is_refused_not_a_server_error(client, gd):
    body = b"[" * 5000 + b"]" * 5000
    message = refused(client, body, signed(body, gd.secret, utcnow()), 400, "malformed_json")
    assert message == "请求体不是合法的读数：JSON 嵌套过深"
    # Unsigned, as an attacker would send it: the body is read before the signature is looked up.
    unsigned = {"X-Timestamp": signed(body, gd.secret, utcnow())["X-Timestamp"]}
    assert refused(client, body, unsigned, 400, "malformed_json") == message


def test_an_alarm_id_past_64_bits_is_not_found_rather_than_a_server_error(client):
    answer = client.get("/alarms/99999999999999999999999")
    assert (answer.status_code, answer.get_data(as_text=True)) == (404, "not found")

