"""The alarm lane through real worker processes: a detector's post -> the app -> Redis -> `python app.py worker`
-> the real SDK client -> the sandbox, with the ordinary queue stuffed or the worker killed mid-send."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from rq import Queue

from handlers.demo.scripted import Detector
from jobs import alarm_queue, delivery
from models import Alarm, Outbox, Person, Sensor

from tests.worlds import world as a_world

ROOT = Path(__file__).resolve().parents[2]
ALARMING = {"O2": 20.9, "EX": 0, "H2S": 12.0, "CO": 0}   # past the 一级 set point of 10 mg/m³
FAULT_API = {"wecom": "message/send", "dingtalk": "createAndDeliver"}


@pytest.fixture(params=["wecom", "dingtalk"])
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def detector(world) -> Detector:
    sensor = Sensor.create(code="GD-0099", name="固定式检测仪", area="常减压装置", kind="固定",
                           gases=list(ALARMING), interval_seconds=1, secret="s3cret-lane")
    return Detector(world.app, sensor.code, sensor.secret, gases=list(ALARMING))


def cards_of(world, alarm: Alarm) -> dict[str, list[dict]]:
    """Each recipient's cards of the alarm, as the sandbox recorded them."""
    found = {}
    for person in Person.select().where(Person.id.in_(alarm.recipients)):
        found[person.wecom_userid] = [m for m in world.phone.messages(person.wecom_userid)
                                      if (m.get("task_id") or "").startswith(f"alarm-{alarm.id}-")]
    return found


def redis_server(sock: Path, folder: Path) -> subprocess.Popen:
    """Start a redis-server of the test's own on sock, once it answers."""
    import shutil
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", "0", "--unixsocket",
                               str(sock), "--save", "", "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL)
    conn = Redis.from_url(f"unix://{sock}")

    def listening() -> bool:
        try:
            return conn.ping()
        except RedisConnectionError:
            return False

    wait_for(listening, "the test's redis-server did not start")
    return server


def start_worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker", "--quiet", *args], cwd=ROOT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def test_an_alarm_overtakes_a_thousand_ordinary_deliveries(world, redis_conn):
    device = detector(world)
    # 1 000 ordinary deliveries waiting before the alarm (rows the sweep already saw sent: each job
    # still takes its turn, a fork and a claim, in the ordinary lane).
    somebody = Person.get(Person.wecom_userid == "zhuyan")
    ids = [Outbox.insert(person=somebody, kind="info", payload={"kind": "info", "text": "积压"},
                         dedupe_key=f"stuffing:{i}", state="sent").execute() for i in range(1000)]
    delivery.enqueue(ids)
    ordinary = Queue("deliver", connection=redis_conn)
    assert ordinary.count == 1000

    answer = device.post(ALARMING)
    assert answer.status_code == 200, answer.text
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    assert alarm_queue.depth() == len(alarm.recipients) > 0
    worker = start_worker()   # the default layout: every lane
    try:
        wait_for(lambda: all(cards_of(world, alarm).values()), "the alarm's cards never arrived")
        left = ordinary.count
    finally:
        stop(worker)
    assert left > 0, "the alarm waited until the ordinary backlog was through"
    assert all(len(cards) == 1 for cards in cards_of(world, alarm).values())


def test_the_alarm_worker_killed_between_the_send_and_the_mark_delivers_the_card_once_on_restart(
        world, monkeypatch):
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "2")
    device = detector(world)
    # The platform takes 2 s to answer: the card is in, the worker has not yet recorded it.
    requests.post(f"{world.sandbox}/sandbox/faults", json={"api": FAULT_API[world.platform], "delay": 2.0,
                                                           "times": 1})
    first = start_worker("--queues", "alarm", "--sweep-every", "0.5")
    answer = device.post(ALARMING)
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    victim = wait_for(lambda: Outbox.get_or_none((Outbox.kind == "alarm") & (Outbox.state == "sending")),
                      "the alarm worker never started sending")
    # The delay rule is used up when the platform has the request in hand: kill the worker then.
    wait_for(lambda: not requests.get(f"{world.sandbox}/sandbox/faults").json()["faults"],
             "the card never reached the platform")
    os.kill(first.pid, signal.SIGKILL)   # no fork: the one process is the whole worker
    first.wait()
    user = victim.person.wecom_userid
    wait_for(lambda: [m for m in world.phone.messages(user) if (m.get("task_id") or "").endswith(f"-n{victim.id}")],
             "the platform never took the card the worker was sending")
    assert Outbox.get_by_id(victim.id).state == "sending"   # sent, never marked
    second = start_worker("--queues", "alarm", "--sweep-every", "0.5")
    try:
        wait_for(lambda: not Outbox.select().where((Outbox.kind == "alarm") & (Outbox.state != "sent")).exists(),
                 "the restarted alarm worker did not deliver every card", seconds=60)
    finally:
        stop(second)
    cards = cards_of(world, alarm)
    assert set(cards) == {Person.get_by_id(i).wecom_userid for i in alarm.recipients}
    assert all(len(c) == 1 for c in cards.values()), cards


def test_the_alarm_lane_resends_an_unacknowledged_alarm_with_no_other_worker_or_scheduler(world):
    from datetime import datetime
    device = detector(world)
    answer = device.post(ALARMING)
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    # Its re-send is due; nothing serves the ordinary queues, where the scheduler's scan would wait.
    Alarm.update(resend_at=datetime(2000, 1, 1)).where(Alarm.id == alarm.id).execute()
    lane = start_worker("--queues", "alarm", "--sweep-every", "0.5")
    try:
        def second_round_sent() -> bool:
            states = [r.state for r in Outbox.select().where(Outbox.dedupe_key.startswith(f"alarm:{alarm.id}:2:"))]
            return bool(states) and set(states) == {"sent"}

        wait_for(second_round_sent, "the second round was never sent")
    finally:
        stop(lane)
    alarm = Alarm.get_by_id(alarm.id)
    assert alarm.rounds == 2
    second = Outbox.select().where(Outbox.dedupe_key.startswith(f"alarm:{alarm.id}:2:"))
    assert {row.person_id for row in second} == set(alarm.recipients)
    assert {row.state for row in second} == {"sent"}
    for user, cards in cards_of(world, alarm).items():
        assert cards, f"{user} has no card of the alarm"
        assert len({c["task_id"] for c in cards}) == len(cards), f"{user} got a card twice"


def test_a_worker_asked_for_an_unknown_queue_is_refused_by_name(db, instance):
    answer = subprocess.run([sys.executable, str(ROOT / "app.py"), "worker", "--queues", "alarm,bogus"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DATABASE_URL": f"sqlite:///{db.database}"}
                            if db.__class__.__name__.startswith("Sqlite") else None)
    assert answer.returncode == 1
    assert "没有队列 bogus" in answer.stderr and "Traceback" not in answer.stderr



def test_the_request_pushes_the_cards_and_one_warm_loop_sends_each_once(world, redis_conn):
    from bot import registry
    from jobs import lanes
    devices = []
    for k in range(3):
        sensor = Sensor.create(code=f"GD-00{k}9", name="固定式检测仪", area="常减压装置", kind="固定",
                               gases=list(ALARMING), interval_seconds=1, secret=f"s3cret-{k}")
        devices.append(Detector(world.app, sensor.code, sensor.secret, gases=list(ALARMING)))
    lanes.warm()   # what the lane does at start: adapters built, token fetched
    adapter = registry.adapter_for(world.platform)
    raised = [Alarm.get_by_id(d.post(ALARMING).json()["alarms"][0]) for d in devices]
    # Each request pushed its cards' ids itself, right after its commit: no sweep ran, no rq job exists.
    cards = [r.id for r in Outbox.select().where(Outbox.kind == "alarm").order_by(Outbox.id)]
    assert [int(i) for i in redis_conn.lrange(alarm_queue.KEY, 0, -1)] == cards
    assert len(cards) == sum(len(a.recipients) for a in raised) and Queue("alarm", connection=redis_conn).count == 0
    # A sweep in between adds no second copy of a waiting card.
    delivery.sweep()
    assert alarm_queue.depth() == len(cards)
    assert lanes.serve_alarms(burst=True) == len(cards)
    assert registry.adapter_for(world.platform) is adapter   # the same client, token and session throughout
    for alarm in raised:
        sent = cards_of(world, alarm)
        assert set(sent) == {Person.get_by_id(i).wecom_userid for i in alarm.recipients}
        assert all(len(c) == 1 for c in sent.values()), sent
    assert alarm_queue.depth() == 0 and not Outbox.select().where(Outbox.state != "sent").exists()


def test_a_worker_started_while_redis_is_away_waits_for_it_and_keeps_its_alarm_lane(plant, tmp_path, monkeypatch):
    import threading
    from redis import Redis
    from rq import Worker
    sock = tmp_path / "later.sock"
    monkeypatch.setenv("REDIS_URL", f"unix://{sock}")
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    worker = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker", "--quiet", "--alarm-workers", "1",
                               "--sweep-every", "0.5"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        # Its own words that it waits, not a time: the alarm lane's children say so too, in other words.
        for line in worker.stderr:
            if "worker cannot reach Redis" in line:
                break
        else:
            pytest.fail(f"the worker ended (exit {worker.wait()}) instead of waiting for Redis")
        threading.Thread(target=worker.stderr.read, daemon=True).start()   # keep the pipe from filling
        server = redis_server(sock, tmp_path)
        conn = Redis.from_url(f"unix://{sock}")
        wait_for(lambda: any(w.pid == worker.pid for w in Worker.all(connection=conn)),
                 "the worker never served its queues once Redis came")
        wait_for(lambda: conn.zcard(alarm_queue.LOOPS) > 0, "its alarm lane never served once Redis came")
        assert worker.poll() is None   # the same process: nothing had to start it again
    finally:
        stop(worker)
        if server is not None:
            server.terminate()
            server.wait(10)


def test_a_worker_whose_redis_goes_away_while_a_job_runs_serves_again_once_it_is_back(plant, tmp_path, monkeypatch):
    import threading
    from redis import Redis
    from rq import Worker
    sock = tmp_path / "away.sock"
    monkeypatch.setenv("REDIS_URL", f"unix://{sock}")
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")

    server = redis_server(sock, tmp_path)
    conn = Redis.from_url(f"unix://{sock}")
    worker = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker", "--quiet", "--queues", "default",
                               "--sweep-every", "0.5"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(w.pid == worker.pid for w in Worker.all(connection=conn)),
                 "the worker never served its queue")
        # A job in the work horse when Redis goes: rq's horse monitor writes to Redis and fails.
        Queue("default", connection=conn).enqueue("time.sleep", 30)
        wait_for(lambda: any(w.get_current_job_id() for w in Worker.all(connection=conn)),
                 "the job never started")
        server.terminate()
        server.wait(10)
        # Redis stays away until rq has given up on it (its own words), longer than redis-py's retries.
        for line in worker.stderr:
            if "quitting" in line or "lost Redis" in line:
                break
        else:
            pytest.fail(f"the worker ended (exit {worker.wait()}) without saying it lost Redis")
        threading.Thread(target=worker.stderr.read, daemon=True).start()   # keep the pipe from filling
        server = redis_server(sock, tmp_path)   # back, empty: as after a restart without persistence
        made = tmp_path / "served after the outage"
        Queue("default", connection=conn).enqueue("os.mkdir", str(made))
        wait_for(made.exists, "the worker did not serve its queue once Redis was back")
        assert worker.poll() is None   # the same process: nothing had to start it again
    finally:
        stop(worker)
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_idle_worker_asked_to_stop_ends_with_its_alarm_lane(plant, redis_url, monkeypatch, how):
    from redis import Redis
    from rq import Worker
    monkeypatch.setenv("REDIS_URL", redis_url)
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    conn = Redis.from_url(redis_url)
    worker = start_worker("--alarm-workers", "1", "--sweep-every", "0.5")
    try:
        wait_for(lambda: any(w.pid == worker.pid for w in Worker.all(connection=conn)),
                 "the worker never served its queues")
        lane = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == worker.pid]
        assert lane, "the worker started no alarm-lane process"
        # An idle rq worker ends its loop on the signal without marking _stop_requested: the
        # supervisor's stop must still end the process, not start rq again.
        worker.send_signal(how)
        assert worker.wait(30) == 0
        wait_for(lambda: not any(_alive(pid) for pid in lane), "the alarm lane outlived its worker")
        assert not any(w.pid == worker.pid for w in Worker.all(connection=conn))
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _stat(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []   # the process ended while we looked


def _parent(proc: Path) -> int | None:
    fields = _stat(int(proc.name))
    return int(fields[1]) if fields else None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"
