"""The chaos run: permits move and alarms fire in the production layout while its parts are killed.

    python bench/chaos.py [--seed S] [--permits 8]  (at least; more while faults remain) [--parallel 4] [--detectors 4] [--force]
    make chaos

The plant (bench/plant.py): a private redis-server, `python app.py serve` (gunicorn), two
`python app.py worker`, a scheduler, `python app.py dingtalk-stream`, both platform sandboxes, and the
sample plant's people split between WeCom and DingTalk. Scripted phones take --permits hot-work permits
from application to closed, --parallel at a time, clicking the cards they really received (a share of
the clicks sent twice, as a platform retries). --detectors detectors report every second, each
alarming every 30 s. Meanwhile, in an order and at moments drawn from the seed:
- a worker is SIGKILLed while a card is being sent (the sandbox holds that send for 3 s);
- Redis is killed and kept away for 10 s, then started empty;
- the database is made unavailable for 8 s (SQLite: an exclusive lock held; PostgreSQL: the app's
  connections terminated with pg_terminate_backend);
- the scheduler is killed and two are started at once;
- the DingTalk Stream socket is dropped, then dropped again right after the next frame;
- all along, the platforms answer at random 45009 and -1 (WeCom), 500, 503 and slow-past-the-client's-
  timeout answers (DingTalk and WeCom).
A part that dies of it is started again, as a supervisor would (counted and printed).

Then the books: every click answered 200 has one signature and one audit event (none twice); no outbox
row is left unsent; every card recorded reached its sandbox; no WeCom text reached a person more often
than the outbox holds it (DingTalk's robot texts have no idempotency key, so a text resent after a
timed-out answer may show twice there: counted and printed, not failed); every alarm raised has its
card; the audit chain verifies. An alarm card more than LATE_SECONDS after its reading is late: counted,
not failed, and printed with what was gone meanwhile (Redis, the database, a worker) or that nothing was.
The last line:
`faults=N transitions=N lost=N doubled=N alarms_late=N chain=ok|broken`; exit 1 unless lost=0,
doubled=0 and chain=ok. Replay a run with its printed --seed.
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

import plant as plants
import support

LATE_SECONDS = 5.0        # an alarm card later than this after its reading's first POST counts as late
ALARM_EVERY = 30          # seconds between a detector's alarming readings
DRAIN_SECONDS = 150       # how long the books wait for the outbox to empty once the faults stop
VERBOSE = bool(__import__("os").environ.get("CHAOS_VERBOSE"))
TASK = re.compile(r"^(?P<no>.+)-(?P<step>[A-Za-z0-9_]+)-r(?P<round>\d+)-p(?P<person>\d+)-v\d+(?:-n\d+)?$")


class Recorder:
    """A phone that notes every click and its answer, and sends a share of them twice (a platform retry)."""

    def __init__(self, phone, rng: random.Random):
        self.phone, self.rng, self.clicks, self.lock = phone, rng, [], threading.Lock()

    def __getattr__(self, name):
        return getattr(self.phone, name)

    def click(self, user: str, message: dict, *, button: int = 0, repeat: int = 1) -> dict:
        with self.lock:
            repeat = 2 if self.rng.random() < 0.3 else repeat
        answer = self.phone.click(user, message, button=button, repeat=repeat)
        with self.lock:
            self.clicks.append((message["task_id"], user, answer.get("status"), repeat))
        return answer


class Faults:
    """Counts each fault that fired: the sandboxes' answers and the processes' deaths."""

    def __init__(self):
        self.fired: Counter = Counter()
        self.away: list[tuple[str, float, float]] = []   # (what, from, until): a part of the plant was gone
        self.lock = threading.Lock()

    def count(self, what: str) -> None:
        with self.lock:
            self.fired[what] += 1

    def was_away(self, what: str, since: float) -> None:
        """Note that what was gone from since (time.time()) until now."""
        with self.lock:
            self.away.append((what, since, time.time()))

    def wrap(self, state, platform: str, held: threading.Event) -> None:
        """Count every call the sandbox's fault rules decided to fail or delay."""
        decide = state.faults.decide

        def counted(api: str):
            delay, failure = decide(api)
            if failure is not None:
                self.count(f"{platform} {failure if isinstance(failure, int) else failure.get('status') or failure.get('errcode')}")
            if delay >= 2.9:
                self.count(f"{platform} slow")
                held.set()
            return delay, failure
        state.faults.decide = counted


# -- the faults ------------------------------------------------------------------------------------

def kill_worker_mid_send(plant, faults: Faults, held: threading.Event, say) -> None:
    held.clear()
    plant.wecom_state().faults.add({"api": "message/send", "delay": 3, "times": 1})
    plant.dingtalk_state().faults.add({"api": "createAndDeliver", "delay": 3, "times": 1})
    if not held.wait(30):
        say("  (no send was under way within 30 s: workers killed anyway)")
    time.sleep(0.5)
    for name in [n for n in plant.parts if n.startswith("worker-")]:
        since = time.time()
        plant.kill(name)
        faults.count("worker SIGKILL")
        plant.restart(name)
        # Gone until the new process serves again, which the plant cannot see: the kill itself is noted.
        faults.was_away(f"{name} SIGKILLed", since)
    say("  workers SIGKILLed mid-send, started again")


def restart_redis(plant, faults: Faults, say, *, away: float = 10) -> None:
    since = time.time()
    plant.kill("redis")
    faults.count("redis down")
    say(f"  redis killed, away for {away:g} s")
    time.sleep(away)
    plant.start_redis()
    faults.was_away("redis", since)
    say("  redis back (empty)")


def database_away(plant, faults: Faults, say, *, seconds: float = 8) -> None:
    faults.count("database away")
    since = time.time()
    if plant.database_url.startswith("sqlite"):
        import sqlite3
        path = plant.database_url.split("///", 1)[1]
        lock = sqlite3.connect(path, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        say(f"  database locked exclusively for {seconds:g} s")
        time.sleep(seconds)
        lock.execute("ROLLBACK")
        lock.close()
    else:
        from models import database
        # Every connection of the app's processes: each pool must find its connections dead and reconnect.
        for _ in range(int(seconds)):
            database.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            time.sleep(1)
        database.close()
        say(f"  the app's database connections terminated, each second for {seconds:g} s")
    faults.was_away("database", since)
    say("  database back")


def two_schedulers(plant, faults: Faults, say) -> None:
    for name in [n for n in plant.parts if n.startswith("scheduler")]:
        plant.kill(name)
        plant.parts.pop(name)
    plant.add("scheduler-a", "scheduler", "--every", "5")
    plant.add("scheduler-b", "scheduler", "--every", "5")
    faults.count("two schedulers")
    say("  scheduler killed; two started at once")


def drop_stream(plant, faults: Faults, say) -> None:
    base = plant.dingtalk_url
    requests.post(f"{base}/sandbox/stream/drop", timeout=5)
    requests.post(f"{base}/sandbox/stream/faults", json={"drop_after": 1}, timeout=5)
    faults.count("stream dropped")
    faults.count("stream dropped")
    say("  DingTalk Stream socket dropped, and dropped again after the next frame")


def platform_noise(plant, faults: Faults, rng: random.Random, stop: threading.Event) -> None:
    """Fail one DingTalk call now and then: 500, 503, or slower than the client waits."""
    while not stop.wait(rng.uniform(4.0, 8.0)):
        choice = rng.choice(["500", "503", "slow"])
        api = rng.choice(["createAndDeliver", "updateCard", "batchSend"])
        if choice == "slow":
            plant.dingtalk_state().faults.add({"api": api, "delay": 11, "times": 1})
        else:
            plant.dingtalk_state().faults.add({"api": api, "status": int(choice), "code": "ServiceUnavailable",
                                               "times": 1})


# -- the load --------------------------------------------------------------------------------------

def detector_loop(detector: dict, base: str, stop: threading.Event, alarms: dict, lock: threading.Lock) -> None:
    """Post a reading every second; every ALARM_EVERY s an alarming one, until it is taken."""
    from handlers.demo.scripted import Detector
    device = Detector(base, detector["code"], detector["secret"])
    tick, due, first_try = 0, None, None
    while not stop.wait(1.0):
        tick += 1
        if due is None and (tick + 3 * detector["index"]) % ALARM_EVERY == 0:
            due, first_try = True, time.time()
        try:
            answer = device.post(plants.ALARMING if due else plants.CLEAN)
        except requests.RequestException:
            continue
        if due and answer.status_code == 200:
            with lock:
                for alarm_id in answer.json().get("alarms") or []:
                    alarms[alarm_id] = first_try
            due = None


def run_permit(serial: int, phone: Recorder, plant, apply_lock: threading.Lock, say) -> str:
    """Apply for one permit in chat and take it to closed, resuming after whatever the faults break."""
    import settings
    from handlers.demo.scripted import take_through
    from models import Person, database
    from models.permit import Permit
    location = f"3#罐区东侧管廊 {serial}号口"
    # The sample plant's applicant, on whichever platform the split put them.
    user = phone.account(Person.get((Person.wecom_userid == "zhuyan") | (Person.dingtalk_userid == "zhuyan")))
    database.close()
    no = None
    with apply_lock:
        for _ in range(40):
            try:
                found = Permit.select().where(Permit.location == location).first()
                if found:
                    no = found.no
                    break
                phone.text(user, plants.apply_text(serial, settings.current().plant_tz))
            except Exception:  # noqa: BLE001 - the app or database may be away: try again
                pass
            finally:
                database.close()
            time.sleep(1.5)
    if no is None:
        raise RuntimeError(f"permit at {location} was never created")
    for attempt in range(40):
        try:
            take_through(phone, no, lambda: plants.settled(no))
            database.close()
            return no
        except Exception as exc:  # noqa: BLE001 - resume from the database's state after the fault passes
            database.close()
            if attempt % 5 == 4 or VERBOSE:
                say(f"  {no}: still resuming ({type(exc).__name__}: {str(exc)[:120]})")
            time.sleep(2)
    raise RuntimeError(f"{no} never reached closed")


# -- the books -------------------------------------------------------------------------------------

def books(plant, phone: Recorder, alarms: dict) -> dict:
    """Check every click, card, text and alarm against the database and the sandboxes' records."""
    from models import Alarm, AuditEvent, CardRecord, Outbox, Person, Signature
    from models.permit import Step
    from workflow import audit
    problems: list[str] = []
    lost = doubled = 0

    # Every click answered 200 has its signature; no signature and no signing event twice.
    signed = Counter((s.step.permit.no, s.step.key, s.round, s.person_id)
                     for s in Signature.select(Signature, Step).join(Step))
    events = list(AuditEvent.select().order_by(AuditEvent.seq))
    signing = Counter((e.permit_no, e.data.get("step"), e.data.get("round"), e.actor) for e in events
                      if e.action != "refused" and isinstance(e.data, dict) and "decision" in e.data)
    for key, n in (signed | signing).items():
        if n > 1:
            doubled += n - 1
            problems.append(f"signed {n} times: {key}")
    # An approval that meets a permit submitted since goes to the area's coordinator first (交叉作业):
    # the click is answered, audited with the overlap, and signs nothing. Those are accounted for.
    rerouted = Counter((e.permit_no, e.data.get("step")) for e in events if e.action != "refused"
                       and isinstance(e.data, dict) and "simops" in e.data and "decision" not in e.data)
    accepted = {TASK.match(task) for task, _user, status, _r in phone.clicks if status == 200}
    for m in filter(None, accepted):
        key = (m["no"], m["step"], int(m["round"]), int(m["person"]))
        if key in signed:
            continue
        if rerouted[(m["no"], m["step"])] > 0:
            rerouted[(m["no"], m["step"])] -= 1
            continue
        lost += 1
        problems.append(f"a click answered 200 left no signature: {key}")
    transitions = sum(1 for e in events if e.action != "refused")
    refusals = sum(1 for e in events if e.action == "refused")

    # Every outbox row sent; every card it recorded arrived; no text more often than the outbox holds it.
    unsent = list(Outbox.select().where(Outbox.state != "sent"))
    lost += len(unsent)
    problems += [f"outbox {r.id} ({r.kind} to person {r.person_id}) left {r.state}: {r.last_error}" for r in unsent]
    arrived = plant.card_arrivals()
    missing = [c.task_id for c in CardRecord.select() if c.task_id not in arrived]
    lost += len(missing)
    problems += [f"card recorded but never at the sandbox: {t}" for t in missing]
    accounts = {p.id: p.wecom_userid or p.dingtalk_userid for p in Person.select()}
    texts: dict[str, Counter] = {}
    for row in Outbox.select():
        if isinstance(row.payload, dict) and row.payload.get("text"):
            texts.setdefault(accounts[row.person_id], Counter())[row.payload["text"]] += 1
    # WeCom drops a repeated text itself (enable_duplicate_check), so a text seen twice there is a double.
    # DingTalk's robot messages carry no idempotency key: a send whose answer timed out may have arrived,
    # and resending it is the only way not to lose it, so a repeat there is counted, not failed.
    repeated = 0
    for platform, state in (("wecom", plant.wecom_state()), ("dingtalk", plant.dingtalk_state())):
        with state.lock:
            users = list(state.chats)
        for user in users:
            shown = Counter(_text_of(m) for m in state.messages(user) if m["msgtype"] in ("text", "markdown"))
            for content, n in shown.items():
                allowed = sum(k for t, k in texts.get(user, Counter()).items() if t in content or content in t)
                extra = n - max(1, allowed)
                if extra <= 0:
                    continue
                if platform == "dingtalk":
                    repeated += extra
                    continue
                doubled += extra
                problems.append(f"{user} got {n} times, the outbox holds it {allowed} times: {content[:60]}")

    # Every alarm raised has its card; late when it came LATE_SECONDS after the reading's first POST.
    first: dict[int, float] = {}
    for task, at in arrived.items():
        m = re.match(r"alarm-(\d+)-", task)
        if m:
            first[int(m[1])] = min(at, first.get(int(m[1]), at))
    raised = [a.id for a in Alarm.select(Alarm.id)]
    undelivered = [a for a in raised if a not in first]
    lost += len(undelivered)
    problems += [f"alarm {a} raised, no card at the sandbox" for a in undelivered]
    late = sorted((first[a] - alarms[a], alarms[a], first[a]) for a in alarms
                  if a in first and first[a] - alarms[a] > LATE_SECONDS)
    report = audit.verify()
    if not report.ok:
        problems.append(f"audit chain broken: {report.broken}")
    return {"lost": lost, "doubled": doubled, "repeated": repeated, "transitions": transitions, "refusals": refusals,
            "late": late, "alarms": len(raised), "chain": "ok" if report.ok else "broken",
            "problems": problems, "clicks": len(phone.clicks), "cards": len(arrived)}


def explain_late(late: list, away: list, deaths: list, started: float) -> list[tuple[float, list[str]]]:
    """Name, for each late alarm, what was gone between its reading and its card (seconds into the run)."""
    gone = [*away, *((f"{name} died (exit {code}), restarted", at, at) for at, name, code in deaths)]
    return [(seconds, [f"{what} {since - started:.0f}–{until - started:.0f} s" if until > since
                       else f"{what} at {since - started:.0f} s"
                       for what, since, until in gone if since <= arrived and until >= reading])
            for seconds, reading, arrived in late]


def _text_of(message: dict) -> str:
    content = message.get("content") or {}
    return str(content.get("content") or content.get("text") or "")


# -- the run ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: a new seed, printed)")
    parser.add_argument("--permits", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--detectors", type=int, default=3)
    parser.add_argument("--calm", action="store_true", help="no faults: the same load and books, for comparison")
    parser.add_argument("--force", action="store_true", help="allow a DATABASE_URL not named test/bench")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10 ** 6)
    print(f"bench/chaos.py --seed {seed}", flush=True)
    database_url = support.database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="chaos-"))
    database_url = database_url or f"sqlite:///{instance / 'permit.db'}"
    import logging
    logging.disable(logging.WARNING)
    # CI's timeout sends SIGTERM: stop the plant's processes (each in a session of its own) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    plant = None
    try:
        plant = plants.open_plant(instance=instance, database_url=database_url, extra_env={
            "OUTBOX_LEASE_SECONDS": "10", "SCHEDULER_LOCK_SECONDS": "6", "DB_POOL_SIZE": "8",
            "DB_POOL_WAIT": "2"})
        return run(plant, args, seed)
    finally:
        if plant is not None:
            plant.stop()
        shutil.rmtree(instance, ignore_errors=True)


def run(plant, args, seed: int) -> int:
    from models import database
    rng = random.Random(seed)
    started, wall = time.monotonic(), time.time()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    detectors = plants.register_detectors(args.detectors)
    plants.enrol_members(plant)
    faults, held = Faults(), threading.Event()
    faults.wrap(plant.wecom_state(), "wecom", held)
    faults.wrap(plant.dingtalk_state(), "dingtalk", held)
    plants.start_app(plant, workers=2, schedulers=1)
    say(f"plant up: {database_url_shown(plant)}, redis on port {plant.redis_port}, {args.detectors} detectors")

    stop, alarms, alarm_lock = threading.Event(), {}, threading.Lock()
    sensors = [threading.Thread(target=detector_loop, args=(d, plant.app_url, stop, alarms, alarm_lock), daemon=True)
               for d in detectors]
    for t in sensors:
        t.start()
    plant.wecom_state().faults.add({"api": "message/send", "rate": 0.05, "errcodes": [45009, -1], "seed": seed})
    plant.wecom_state().faults.add({"api": "message/update_template_card", "rate": 0.05, "errcodes": [45009, -1],
                                    "seed": seed + 1})
    noise_stop = threading.Event()
    threading.Thread(target=platform_noise, args=(plant, faults, random.Random(seed + 2), noise_stop),
                     daemon=True).start()

    phone = Recorder(plants.phone_for(plant), random.Random(seed + 3))
    apply_lock = threading.Lock()
    schedule = [lambda: kill_worker_mid_send(plant, faults, held, say), lambda: restart_redis(plant, faults, say),
                lambda: database_away(plant, faults, say), lambda: two_schedulers(plant, faults, say),
                lambda: drop_stream(plant, faults, say)]
    rng.shuffle(schedule)
    if args.calm:
        schedule = []
        plant.wecom_state().faults.clear()
        noise_stop.set()

    def inject():
        for fault in schedule:
            time.sleep(rng.uniform(3, 8))
            try:
                fault()
            except Exception:  # noqa: BLE001 - a fault that cannot be injected is reported, not fatal
                say("  fault injection failed: " + traceback.format_exc(limit=2).replace("\n", " "))
    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    failures, serials, serial_lock = [], iter(range(1, 10 ** 6)), threading.Lock()

    def phones() -> None:
        # Permits keep moving until every fault has been injected, and at least --permits are taken through.
        while True:
            with serial_lock:
                serial = next(serials)
            if serial > args.permits and not injector.is_alive():
                return
            try:
                say(f"{run_permit(serial, phone, plant, apply_lock, say)} closed")
            except Exception as exc:  # noqa: BLE001 - named in the books
                failures.append(str(exc))
                say(f"FAILED: {exc}")
    with ThreadPoolExecutor(args.parallel) as pool:
        for future in [pool.submit(phones) for _ in range(args.parallel)]:
            future.result()
    injector.join()
    noise_stop.set()
    plant.wecom_state().faults.clear()
    plant.dingtalk_state().faults.clear()
    say("faults over; waiting for the outbox to drain")
    plants.wait_drained(DRAIN_SECONDS)
    stop.set()
    for t in sensors:
        t.join(5)
    database.close_all()
    # The last alarms' cards: the detectors have stopped, so nothing new is raised meanwhile. Waited for
    # whether or not the outbox had drained before: an alarm raised just before they stopped is still
    # being sent, and the books would count it lost.
    plants.wait_drained(30)
    found = books(plant, phone, alarms)
    database.close()
    lost = found["lost"] + len(failures)
    print(f"clicks {found['clicks']} ({sum(1 for c in phone.clicks if c[3] > 1)} sent twice), cards at the sandboxes "
          f"{found['cards']}, refusals audited {found['refusals']}, alarms raised {found['alarms']}, parts restarted "
          f"by the supervisor {plant.restarts}, permits not closed {len(failures)}")
    print("faults fired: " + ", ".join(f"{k} x{n}" for k, n in sorted(faults.fired.items())))
    if found["repeated"]:
        print(f"DingTalk texts shown again after a send whose answer timed out: {found['repeated']} "
              "(robot messages have no idempotency key; a resend is how none is lost)")
    if found["late"]:
        print("late alarms (s after the reading): " + "; ".join(
            f"{late:.1f} ({', '.join(why) or 'no fault to explain it'})"
            for late, why in explain_late(found["late"], faults.away, plant.deaths, wall)))
    for problem in found["problems"][:40]:
        print(f"  {problem}", file=sys.stderr)
    print(f"faults={sum(faults.fired.values())} transitions={found['transitions']} lost={lost} "
          f"doubled={found['doubled']} alarms_late={len(found['late'])} chain={found['chain']}")
    return 0 if lost == 0 and found["doubled"] == 0 and found["chain"] == "ok" else 1


def database_url_shown(plant) -> str:
    return plant.database_url.split(":", 1)[0] + (" (temporary file)" if plant.database_url.startswith("sqlite")
                                                  else "")


if __name__ == "__main__":
    sys.exit(main())
