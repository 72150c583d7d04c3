"""Under overload every reading is stored or answered 503 with Retry-After, never 500, and an alarming
reading is never the one refused."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests

from models import Alarm, GasReading, Outbox, Person, Sensor, utcnow
import settings
from sensors import admission, intake
from tests.sensors.conftest import GOOD_AIR, body_of, iso, signed
from tests.test_wecom_real_path import alarm_cards
from tests.worlds import world as a_world

DANGER = {"H2S": 25.0}   # past the second alarm: raises 二级 on any detector


@pytest.fixture
def sqlite_only(plant):
    if not plant.__class__.__name__.startswith("Sqlite"):
        pytest.skip("holds SQLite's write lock from a second connection")
    return plant


def test_while_the_database_is_locked_a_clean_reading_gets_503_and_an_alarming_one_waits(client, site, sqlite_only):
    clean, hot = site.detector("GD-0001"), site.detector("GD-0002")
    at = utcnow()
    clean_body = body_of([{"device": "GD-0001", "ts": iso(at), "values": GOOD_AIR}])
    hot_body = body_of([{"device": "GD-0002", "ts": iso(at), "values": {**GOOD_AIR, **DANGER}}])
    answers = {}

    def post(name, body, secret):
        answers[name] = client.post("/sensors/readings", data=body, headers=signed(body, secret, at))

    # Another writer (a long export, another process) holds the write lock.
    holder = sqlite3.connect(sqlite_only.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        threads = [threading.Thread(target=post, args=("hot", hot_body, hot.secret)),
                   threading.Thread(target=post, args=("clean", clean_body, clean.secret))]
        for thread in threads:
            thread.start()
        threads[1].join()
        # The clean one gave up; the alarming one is still waiting for the lock.
        assert threads[0].is_alive()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    threads[0].join()

    shed = answers["clean"]
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "2"
    assert shed.get_json()["error"] == "overloaded" and "请稍后重发" in shed.get_json()["message"]
    assert not GasReading.select().where(GasReading.device == "GD-0001").exists()
    assert answers["hot"].status_code == 200, answers["hot"].get_json()
    assert Alarm.get().device == "GD-0002"
    # Sent again, as the detector does after Retry-After, the clean reading is stored.
    again = client.post("/sensors/readings", data=clean_body, headers=signed(clean_body, clean.secret, at))
    assert again.status_code == 200 and GasReading.select().where(GasReading.device == "GD-0001").count() == 1


def test_the_admission_limits_are_settings_with_documented_defaults():
    conf = settings.load({})
    assert (conf.sensor_clean_slots, conf.sensor_clean_wait_seconds, conf.sensor_clean_lock_wait_ms,
            conf.sensor_urgent_attempts, conf.sensor_retry_after_seconds) == (4, 2.0, 2000, 6, 2)
    with pytest.raises(settings.SettingsError, match="SENSOR_CLEAN_SLOTS=0 must be 1 or more"):
        settings.load({"SENSOR_CLEAN_SLOTS": "0"})
    with pytest.raises(settings.SettingsError, match="SENSOR_CLEAN_WAIT_SECONDS='soon' is not a number"):
        settings.load({"SENSOR_CLEAN_WAIT_SECONDS": "soon"})


def test_with_one_clean_slot_a_second_clean_post_is_shed_with_the_configured_retry_after(
        client, site, sqlite_only, monkeypatch):
    monkeypatch.setenv("SENSOR_CLEAN_SLOTS", "1")
    monkeypatch.setenv("SENSOR_CLEAN_WAIT_SECONDS", "0")
    monkeypatch.setenv("SENSOR_CLEAN_LOCK_WAIT_MS", "60000")
    monkeypatch.setenv("SENSOR_RETRY_AFTER_SECONDS", "7")
    settings.configure()
    first, second = site.detector("GD-0001"), site.detector("GD-0002")
    at = utcnow()
    bodies = {d.code: body_of([{"device": d.code, "ts": iso(at), "values": GOOD_AIR}]) for d in (first, second)}
    answers = {}

    def post(sensor):
        answers[sensor.code] = client.post("/sensors/readings", data=bodies[sensor.code],
                                           headers=signed(bodies[sensor.code], sensor.secret, at))

    # The first clean post holds the only slot while it waits for the write lock another writer holds.
    holder = sqlite3.connect(sqlite_only.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        waiting = threading.Thread(target=post, args=(first,))
        waiting.start()
        slots = admission._clean_slots()
        while slots._value and waiting.is_alive():   # until the first post has taken the slot
            threading.Event().wait(0.01)
        post(second)
        assert waiting.is_alive()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    waiting.join()
    shed = answers["GD-0002"]
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "7"
    assert shed.get_json()["retry_after"] == 7
    assert answers["GD-0001"].status_code == 200
    assert [d for (d,) in GasReading.select(GasReading.device).tuples()] == ["GD-0001"]


DETECTORS, ALARMING = 300, 30


def post_reading(url: str, code: str, secret: str, values: dict, at: int) -> int:
    body = json.dumps([{"device": code, "ts": datetime.fromtimestamp(at, timezone.utc).isoformat(),
                        "values": values}]).encode()
    stamp = str(at)
    answer = requests.post(url, data=body, timeout=120, headers={
        "Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": intake.sign(secret, stamp, body)})
    if answer.status_code == 503:
        assert answer.headers["Retry-After"].isdigit()
    return answer.status_code


def test_300_detectors_posting_at_once_every_reading_stored_or_503_every_alarm_delivered_once(
        plant, monkeypatch, redis_conn):
    with a_world("wecom", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        codes = [f"GD-{i:04d}" for i in range(DETECTORS)]
        Sensor.insert_many([dict(code=c, name=f"检测仪{c}", area=f"区域{c}", kind="便携", gases=list(GOOD_AIR),
                                 interval_seconds=1, secret=f"s-{c}", created_at=utcnow()) for c in codes]).execute()
        hot = set(codes[::DETECTORS // ALARMING])
        values = {c: {**GOOD_AIR, **(DANGER if c in hot else {})} for c in codes}
        at = int(time.time())
        url = f"{w.app}/sensors/readings"
        start = threading.Barrier(DETECTORS)

        def detector(code: str) -> int:
            start.wait()
            return post_reading(url, code, f"s-{code}", values[code], at)

        with ThreadPoolExecutor(DETECTORS) as pool:
            answers = dict(zip(codes, pool.map(detector, codes)))

        assert set(answers.values()) <= {200, 503}, sorted(set(answers.values()))
        assert all(answers[c] == 200 for c in hot), "an alarming reading was refused"
        stored = {d for (d,) in GasReading.select(GasReading.device).tuples()}
        assert stored == {c for c, status in answers.items() if status == 200}
        assert GasReading.select().count() == len(stored)   # each stored once
        # Resent after Retry-After, every shed reading is stored: none is lost.
        for code in [c for c, status in answers.items() if status == 503]:
            assert post_reading(url, code, f"s-{code}", values[code], at) == 200
        assert GasReading.select().count() == DETECTORS

        alarms = list(Alarm.select())
        assert sorted(a.device for a in alarms) == sorted(hot)
        w.drain()
        w.drain()
        for alarm in alarms:
            cards = alarm_cards(w.phone, alarm.id)
            assert set(cards) == {Person.get_by_id(i).wecom_userid for i in alarm.recipients} and cards
            assert all(len(sent) == 1 for sent in cards.values())
        assert {r.state for r in Outbox.select().where(Outbox.kind == "alarm")} == {"sent"}
