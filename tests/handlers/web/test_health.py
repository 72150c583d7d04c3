"""/healthz, /readyz and /metrics: each check names what is missing; metrics count what happened."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue

import settings
from jobs import alarm_queue, delivery
from jobs.scheduler import LeaderLock
from models import Alarm, Outbox, Person, utcnow
from monitoring import metrics, readiness

ROOT = Path(__file__).resolve().parents[3]
DINGTALK_STREAM = {"DINGTALK_APP_KEY": "dingkey", "DINGTALK_APP_SECRET": "dingsecret",
                   "DINGTALK_CORP_ID": "dingcorp", "DINGTALK_MODE": "stream",
                   # a closed loopback port: the token cannot be fetched
                   "DINGTALK_OAPI_BASE": "http://127.0.0.1:9", "DINGTALK_API_BASE": "http://127.0.0.1:9"}


@pytest.fixture
def client(db, instance, tmp_path, monkeypatch, redis_url, redis_conn):
    """An app on the test database and the run's Redis, with no platform configured."""
    from app import create_app

    def make(**env):
        for name in list(DINGTALK_STREAM) + ["WECOM_CORP_ID", "READY_SOCKETS"]:
            monkeypatch.delenv(name, raising=False)
        if db.__class__.__name__.startswith("Sqlite"):
            monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db.database}")
        monkeypatch.setenv("REDIS_URL", redis_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return create_app().test_client()
    yield make
    monkeypatch.delenv("READY_SOCKETS", raising=False)
    settings.configure()


def lead(redis_conn) -> None:
    assert LeaderLock(redis_conn, ttl=60).acquire_or_renew()


def test_healthz_says_the_process_is_up_without_the_database(client, monkeypatch):
    web = client()
    import models
    for name in ("connect", "execute_sql"):
        monkeypatch.setattr(models.database.obj, name, lambda *a, **k: pytest.fail("healthz touched the database"))
    assert web.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_200_when_every_part_is_there(client, redis_conn):
    web = client()
    lead(redis_conn)
    answer = web.get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "ready" and body["failed"] == {}
    assert body["checks"] == {"database": "ok", "redis": "ok", "scheduler": "ok", "queues": "ok"}
    assert body["queues"] == {"alarm": 0, "deliver": 0, "default": 0}


def test_readyz_names_a_missing_leader_a_long_queue_and_a_stale_socket(client, redis_conn):
    web = client(**DINGTALK_STREAM)
    # Cards waiting on the alarm lane's list (ids of no row: nothing serves the lane here).
    redis_conn.rpush(alarm_queue.KEY, *range(1, readiness.QUEUE_LIMITS["alarm"] + 2))
    answer = web.get("/readyz")
    assert answer.status_code == 503
    failed = answer.get_json()["failed"]
    assert set(failed) == {"scheduler", "queues", "socket:dingtalk", "token:dingtalk"}
    assert failed["scheduler"] == "no scheduler holds the lead"
    assert failed["queues"] == "alarm=51>50"
    assert failed["socket:dingtalk"] == "no heartbeat at ws:dingtalk:heartbeat"

    readiness.beat(redis_conn, "dingtalk", now=time.time() - readiness.HEARTBEAT_STALE - 30)
    assert web.get("/readyz").get_json()["failed"]["socket:dingtalk"].startswith("last heartbeat 7")
    readiness.beat(redis_conn, "dingtalk")
    lead(redis_conn)
    redis_conn.delete(alarm_queue.KEY)
    assert set(web.get("/readyz").get_json()["failed"]) == {"token:dingtalk"}


def test_readyz_checks_the_sockets_named_in_ready_sockets(client, redis_conn):
    web = client(READY_SOCKETS="wecom")
    lead(redis_conn)
    assert web.get("/readyz").get_json()["failed"] == {"socket:wecom": "no heartbeat at ws:wecom:heartbeat"}
    readiness.beat(redis_conn, "wecom")
    assert web.get("/readyz").status_code == 200


def test_a_bad_ready_sockets_setting_is_named_at_start(client):
    with pytest.raises(settings.SettingsError, match="READY_SOCKETS='feishu'"):
        client(READY_SOCKETS="feishu")


def test_readyz_names_redis_when_it_is_unreachable(client, tmp_path):
    web = client(REDIS_URL=f"unix://{tmp_path / 'nobody.sock'}")
    answer = web.get("/readyz")
    assert answer.status_code == 503
    failed = answer.get_json()["failed"]
    assert failed["redis"].startswith("ConnectionError") and "database" not in failed
    assert {"scheduler", "queues"} <= set(failed)


def test_readyz_names_a_database_behind_its_schema(client, db):
    from models import SchemaVersion
    from models.schema import current_version
    head = current_version()
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1)
    try:
        failed = client().get("/readyz").get_json()["failed"]
    finally:
        # A server database is shared by the whole run: the tests after this one need its true stamp.
        SchemaVersion.delete().execute()
        SchemaVersion.create(version=head)
    assert re.fullmatch(r"数据库结构为第 1 版，需要第 \d+ 版", failed["database"])


def scrape(web) -> dict[str, float]:
    """Return each sample line of /metrics as name{labels} -> value."""
    answer = web.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    found = {}
    for line in answer.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def test_metrics_reads_queue_depths_open_alarms_and_failed_deliveries(client, redis_conn):
    web = client()
    Queue("deliver", connection=redis_conn).enqueue("os.getpid")
    Alarm.create(level="一级", text="H2S 12", reading_at=utcnow())
    Alarm.create(level="一级", text="H2S 11", reading_at=utcnow(), acknowledged_at=utcnow())
    # Nobody can reach this person: the row fails for good on its first attempt.
    from models import Department
    nobody = Person.create(name="无账号", department=Department.create(code="S", name="安全部", kind="department"))
    row = Outbox.create(person=nobody, kind="reply", payload={"kind": "reply", "text": "x"}, dedupe_key="k1")
    before = scrape(web).get('permit_deliveries_failed_total{kind="reply"}', 0)
    assert delivery.deliver(row.id) == "failed"
    found = scrape(web)
    assert found['permit_queue_depth{queue="deliver"}'] == 1 and found['permit_queue_depth{queue="alarm"}'] == 0
    assert found["permit_alarms_open"] == 1
    assert found["permit_outbox_failed"] == 1
    assert found['permit_deliveries_failed_total{kind="reply"}'] == before + 1


def test_metrics_add_up_every_process_writing_to_the_shared_directory(client, tmp_path, monkeypatch):
    web = client()
    monkeypatch.delenv(metrics.ENV, raising=False)
    folder = metrics.use_directory(tmp_path / "metrics")
    try:
        code = "from monitoring import metrics; metrics.observe_callback('wecom', 0.3)"
        for _ in range(2):   # two other processes, as two gunicorn workers would be
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                           env={**__import__("os").environ, metrics.ENV: str(folder)})
        metrics.observe_callback("wecom", 0.02)
        found = scrape(web)
        assert found['permit_callback_seconds_count{platform="wecom"}'] == 3
        assert found['permit_callback_seconds_bucket{le="0.25",platform="wecom"}'] == 1
    finally:
        metrics.use_memory()
