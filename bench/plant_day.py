"""A busy plant's day, compressed, in the production layout: permits clicked through, detectors, scans, exports.

    python bench/plant_day.py [--permits 1000] [--parallel 20] [--detectors 500] [--gateways 10]
                              [--alarm-share 0.01] [--workers 2] [--web-workers 2] [--web-threads 8] [--force]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python bench/plant_day.py

The plant (bench/plant.py): a private redis-server, `python app.py serve` (gunicorn), --workers
`python app.py worker`, one `python app.py scheduler` (reminders and escalations: every step's time
limit is cut to a thousandth, STEP_LIMIT_FACTOR, so a step left a few seconds is overdue), the DingTalk
Stream connection, both sandboxes, the sample plant's people split between WeCom and DingTalk.

The load: --permits 二级 hot-work permits, applied for in chat and taken to closed by scripted phones,
--parallel at a time, every step clicked on the card the person received. --detectors detectors report
once a second through --gateways gateways (POST /sensors/gateway, one signed batch a second each);
--alarm-share of the readings alarm (一级). A 系统管理员 asks for the month's ledger in chat (导出 台账)
every 30 s.

Printed: the callback ack p50/p99 (each click through the sandbox to the app and back: the sandbox
seals and posts the callback as the platform does, so the hop is included), beside the floor measured in
the same run by the same threads (after each click, a sealed WeCom body posted to a gunicorn of the same
size serving only bench/callback.py's floor endpoint: verify, decrypt, commit one row); the alarm relay
p99 (the gateway's POST of the alarming reading to the card's stamp at the sandbox); the queues' depth
over time and whether they grow; the database's size. The last line: `ratio=<callback p99 / 1 s> target<=1`.

Setup: a temporary instance folder; SQLite in it, or DATABASE_URL (WARNING: its tables are dropped and
recreated, so a database not named test or bench is refused unless --force).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

import plant as plants
import support

EXPORT_EVERY = 30.0


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")


class TimedPhone:
    """A phone that times each click's round trip, and after each posts one sealed body to the floor."""

    def __init__(self, phone, floor_url: str):
        self.phone, self.floor_url = phone, floor_url
        self.acks: list[float] = []
        self.floor: list[float] = []
        self.statuses: dict = {}
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.phone, name)

    def click(self, user: str, message: dict, *, button: int = 0, repeat: int = 1) -> dict:
        began = time.perf_counter()
        answer = self.phone.click(user, message, button=button, repeat=repeat)
        took = time.perf_counter() - began
        floor = _floor_post(self.floor_url)
        with self.lock:
            self.acks.append(took)
            self.statuses[answer.get("status")] = self.statuses.get(answer.get("status"), 0) + 1
            if floor is not None:
                self.floor.append(floor)
        return answer


def _floor_post(url: str) -> float | None:
    """Post one sealed WeCom click to the floor endpoint; return the seconds it took, None if refused."""
    import callback
    (params, body), = callback._seal([("FLOOR-0001", f"floor-{time.time_ns()}", 1)])
    began = time.perf_counter()
    try:
        answer = requests.post(url, params=params, data=body, timeout=30,
                               headers={"Content-Type": "text/xml; charset=utf-8"})
    except requests.RequestException:
        return None
    return time.perf_counter() - began if answer.status_code == 200 else None


def _start_floor(plant, args) -> str:
    """Serve bench/callback.py's floor endpoint alone, with gunicorn at the app's size; return its URL."""
    import callback
    callback._floor_model().create_table(safe=True)
    port = support.free_port()
    part = plants.Part("floor", [sys.executable, "-m", "gunicorn", "--pythonpath", f"{plants.ROOT / 'bench'},{plants.ROOT}",
                                 "-w", str(args.web_workers), "--threads", str(args.web_threads), "-b",
                                 f"127.0.0.1:{port}", "floor_app:create()"])
    plant.parts["floor"] = part
    plant._spawn(part)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return f"http://127.0.0.1:{port}/bench/floor"
        except requests.RequestException:
            pass
        if part.process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the floor did not start:\n{plant.log_tail('floor')}")
        time.sleep(0.2)


def _gateway_loop(spec: dict, base: str, every: int, stop: threading.Event, alarms: dict, lock) -> None:
    """Post the gateway's detectors' readings once a second as one signed batch; note when alarms were sent."""
    from sensors.intake import sign
    plant_tz = timezone(timedelta(hours=8))
    session, k = requests.Session(), 0
    while not stop.is_set():
        now = int(time.time())
        k += 1
        batch = [{"device": d["code"], "ts": datetime.fromtimestamp(now, plant_tz).isoformat(),
                  "values": plants.ALARMING if every and (k + d["index"]) % every == 0 else plants.CLEAN}
                 for d in spec["detectors"]]
        body = json.dumps(batch).encode()
        sent = time.time()
        try:
            answer = session.post(f"{base}/sensors/gateway", data=body, timeout=30, headers={
                "Content-Type": "application/json", "X-Gateway": spec["gateway"], "X-Timestamp": str(now),
                "X-Signature": sign(spec["secret"], str(now), body)})
            ids = answer.json().get("alarms") or [] if answer.status_code == 200 else []
        except (requests.RequestException, ValueError):
            ids = []
        with lock:
            for alarm_id in ids:
                alarms[alarm_id] = sent
        stop.wait(max(0.0, now + 1 - time.time()))


def _backlog() -> tuple[int, int, int, int]:
    from jobs import alarm_queue
    from jobs.connection import queue
    from models import Outbox, database
    try:
        rows = Outbox.select().where(Outbox.state.in_(("pending", "sending"))).count()
    finally:
        database.close()
    return alarm_queue.depth(), queue("deliver").count, queue("default").count, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=20, help="permits moving at once (default 20)")
    parser.add_argument("--detectors", type=int, default=500)
    parser.add_argument("--gateways", type=int, default=10)
    parser.add_argument("--alarm-share", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--force", action="store_true", help="allow a DATABASE_URL not named test/bench")
    args = parser.parse_args()
    if args.permits < 1 or args.parallel < 1 or not 1 <= args.gateways <= max(1, args.detectors):
        parser.error("--permits and --parallel must be positive, --gateways in 1..detectors")
    database_url = support.database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="plant-day-"))
    database_url = database_url or f"sqlite:///{instance / 'permit.db'}"
    import logging
    logging.disable(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    plant = None
    try:
        plant = plants.open_plant(instance=instance, database_url=database_url, extra_env={
            "STEP_LIMIT_FACTOR": "0.001", "DB_POOL_SIZE": str(args.web_threads + 4)})
        return run(plant, args)
    finally:
        if plant is not None:
            plant.stop()
        shutil.rmtree(instance, ignore_errors=True)


def run(plant, args) -> int:
    import settings
    from models import Alarm, Permit, Person, PersonRole, database
    from sensors.registry import register_gateway
    started = time.monotonic()
    detectors = plants.register_detectors(args.detectors) if args.detectors else []
    share = -(-len(detectors) // args.gateways) if detectors else 0
    gateways = []
    for g in range(args.gateways if detectors else 0):
        mine = detectors[g * share:(g + 1) * share]
        if mine:
            code = f"GW-P{g + 1:03d}"
            gateways.append({"gateway": code, "detectors": mine,
                             "secret": register_gateway(code, f"控制器{g + 1}", [d["code"] for d in mine])})
    plants.enrol_members(plant)
    floor_url = _start_floor(plant, args)
    plants.start_app(plant, workers=args.workers, web_workers=args.web_workers, web_threads=args.web_threads)
    phone = TimedPhone(plants.phone_for(plant), floor_url)
    admin = PersonRole.select().where(PersonRole.role == "系统管理员").first()
    admin_account = phone.account(admin.person) if admin else None
    applicant = phone.account(Person.get((Person.wecom_userid == "zhuyan") | (Person.dingtalk_userid == "zhuyan")))
    database.close_all()
    print(f"bench/plant_day.py: {args.permits} permits ({args.parallel} at once), {len(detectors)} detectors through "
          f"{len(gateways)} gateways ({args.alarm_share:.0%} alarming), scans every 5 s, an export every "
          f"{EXPORT_EVERY:g} s; {plant.database_url.split(':', 1)[0]}; serve {args.web_workers}x{args.web_threads}, "
          f"{args.workers} workers; {os.cpu_count()} cores", flush=True)

    stop, alarms, lock = threading.Event(), {}, threading.Lock()
    every = round(1 / args.alarm_share) if args.alarm_share > 0 else 0
    threads = [threading.Thread(target=_gateway_loop, args=(g, plant.app_url, every, stop, alarms, lock), daemon=True)
               for g in gateways]
    samples: list[tuple] = []

    def sampler():
        while not stop.wait(1.0):
            try:
                samples.append((time.monotonic() - started, *_backlog()))
            except Exception:  # noqa: BLE001 - a sample missed is a gap in the series, nothing more
                pass

    def exporter():
        while admin_account and not stop.wait(EXPORT_EVERY):
            try:
                phone.text(admin_account, f"导出 台账 {datetime.now(settings.current().plant_tz):%Y-%m}")
            except requests.RequestException:
                pass
    threads += [threading.Thread(target=sampler, daemon=True), threading.Thread(target=exporter, daemon=True)]
    for t in threads:
        t.start()

    apply_lock, failures = threading.Lock(), []

    def one(serial: int) -> None:
        from handlers.demo.scripted import take_through
        location = f"3#罐区东侧管廊 {serial}号口"
        with apply_lock:   # one applicant: their applications one after another
            phone.text(applicant, plants.apply_text(serial, settings.current().plant_tz))
            # The application may be handled by a worker after the callback is answered (a Stream
            # event kept in the inbox): wait for its permit rather than look once.
            deadline = time.monotonic() + 60
            while (found := Permit.select().where(Permit.location == location).first()) is None \
                    and time.monotonic() < deadline:
                database.close()
                time.sleep(0.2)
            database.close()
        if found is None:
            raise RuntimeError(f"no permit for {location}")
        plants.settled(found.no)
        for attempt in range(3):
            try:
                take_through(phone, found.no, lambda: plants.settled(found.no))
                break
            except RuntimeError:   # a card still on its way: resume from the permit's state
                if attempt == 2:
                    raise
                time.sleep(1)
            finally:
                database.close()

    load_began = time.monotonic()
    with ThreadPoolExecutor(args.parallel) as pool:
        for future in [pool.submit(one, n + 1) for n in range(args.permits)]:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - counted and named below
                failures.append(f"{type(exc).__name__}: {exc}")
    load_seconds = time.monotonic() - load_began
    stop.set()
    for t in threads:
        t.join(10)
    waiting = plants.wait_drained(60)
    arrived = plant.card_arrivals()
    first: dict[int, float] = {}
    for task, at in arrived.items():
        if task.startswith("alarm-"):
            alarm_id = int(task.split("-")[1])
            first[alarm_id] = min(at, first.get(alarm_id, at))
    relay = [first[a] - sent for a, sent in alarms.items() if a in first]
    raised = Alarm.select().count()
    size = support.database_bytes()
    database.close()

    acks, floor = phone.acks, phone.floor
    clicks_per_s = len(acks) / load_seconds if load_seconds else 0
    print(f"permits: {args.permits - len(failures)} closed, {len(failures)} not"
          + (f" (first: {failures[0][:160]})" if failures else ""))
    print(f"clicks: {len(acks)} in {load_seconds:.0f} s ({clicks_per_s:.1f}/s), answers {phone.statuses}")
    print(f"{'':<30}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (("callback ack (via sandbox)", acks), ("floor (decrypt + 1 row)", floor),
                         ("alarm relay", relay)):
        if values:
            print(f"{name:<30}{len(values):>6}{statistics.median(values) * 1000:>9.1f}{_pct(values, .99) * 1000:>9.1f}"
                  f"{max(values) * 1000:>9.1f}")
    print(f"alarms: {len(alarms)} answered, {raised} raised, {len(relay)} with their card at the sandbox")
    steady = _print_queues(samples)
    print(f"database: {size / 1e6:.1f} MB; outbox rows still waiting {waiting}; parts restarted {plant.restarts}")
    p99 = _pct(acks, .99) if acks else float("inf")
    print(f"queues {'flat' if steady else 'GROW'}; callback p99 {p99 * 1000:.0f} ms vs floor p99 "
          f"{_pct(floor, .99) * 1000:.0f} ms")
    print(f"ratio={p99 / 1.0:.2f} target<=1")
    return 0 if not failures and not waiting and steady and p99 <= 1.0 else 1


def _print_queues(samples: list[tuple]) -> bool:
    """Print each queue's depth series (one value every few seconds); return True when none grows."""
    steady = True
    step = max(1, len(samples) // 30)
    for name, column in (("alarm lane", 1), ("deliver", 2), ("default (exports, scans)", 3), ("outbox unsent", 4)):
        values = [s[column] for s in samples] or [0]
        third = max(1, len(values) // 3)
        first, last = statistics.mean(values[:third]), statistics.mean(values[-third:])
        grows = last > 1.5 * first + 2
        steady = steady and not grows
        print(f"  {name:<26} max {max(values):>4}  first third {first:6.1f}  last third {last:6.1f}  "
              f"{'GROWS' if grows else 'flat'}: {' '.join(str(v) for v in values[::step])}")
    return steady


if __name__ == "__main__":
    sys.exit(main())
