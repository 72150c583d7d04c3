"""A plant in the production layout, for the chaos run and the plant's day: every part a process of its own.

Started here, each as its own process group so it can be killed alone: a private redis-server on a free
port, `python app.py serve` (gunicorn), `python app.py worker`, `python app.py scheduler` and
`python app.py dingtalk-stream`. Both platform sandboxes run in threads of the caller's process, so the
books can be read from their state directly. The sample plant's people are split between the two
platforms (every other person on DingTalk), so every permit crosses both.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import support  # noqa: E402  (bench/ is on the path when a bench runs)

CORP, SECRET, TOKEN, AGENT = "wwplant01", "plant-secret", "plant-token", 1000002
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
APP_KEY, APP_SECRET, DING_CORP = "dingplantkey01", "dingtalk-plant-secret", "dingplantcorp"
EVENT_TOKEN, EVENT_AES_KEY = "plant-event-token", base64.b64encode(bytes(range(33, 65))).decode().rstrip("=")
SAMPLE_ORG = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
CLEAN = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}
ALARMING = {**CLEAN, "H2S": 12.0}     # 一级: at or past 10 mg/m³
SERIAL = re.compile(r"-n(\d+)$")


@dataclass
class Part:
    """One process of the plant: how to start it again, and the process now running."""
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    starts: int = 0
    expected_down: bool = False


@dataclass
class Plant:
    instance: Path
    database_url: str
    redis_port: int
    app_url: str = ""
    wecom: object = None          # the sandbox Flask apps, in this process
    dingtalk: object = None
    wecom_url: str = ""
    dingtalk_url: str = ""
    parts: dict[str, Part] = field(default_factory=dict)
    restarts: int = 0             # parts found dead and started again, as a supervisor would
    deaths: list = field(default_factory=list)   # (time, part, exit code) of each of those
    stops: list = field(default_factory=list)
    _watching: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the private Redis ---------------------------------------------------------------------------
    def start_redis(self) -> None:
        """Start (or start again) the plant's own redis-server on its port; wait until it answers."""
        from redis import Redis
        part = self.parts.get("redis") or Part("redis", [
            "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.instance), "--daemonize", "no"])
        self.parts["redis"] = part
        self._spawn(part)
        probe = Redis(port=self.redis_port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            try:
                probe.ping()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    sys.exit(f"redis-server did not start on port {self.redis_port}")
                time.sleep(0.05)

    # -- processes -------------------------------------------------------------------------------------
    def add(self, name: str, *args: str) -> Part:
        """Start `python app.py <args>` as a part of the plant."""
        part = Part(name, [sys.executable, str(ROOT / "app.py"), *args])
        self._spawn(part)
        self.parts[name] = part   # only once it has a process: the supervisor polls every part it sees
        return part

    def _spawn(self, part: Part) -> None:
        log = open(self.instance / f"{part.name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
        part.process = subprocess.Popen(part.argv, cwd=ROOT, env={**os.environ}, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        part.starts += 1
        part.expected_down = False

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a part's whole process group (the forked work horses too) and reap it."""
        part = self.parts[name]
        part.expected_down = True
        if part.process is not None and part.process.poll() is None:
            try:
                os.killpg(part.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                part.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(part.process.pid, signal.SIGKILL)
                part.process.wait()

    def restart(self, name: str) -> None:
        """Start a part again after kill()."""
        self._spawn(self.parts[name])

    def watch(self, every: float = 1.0) -> None:
        """Start every part found dead (that nobody meant to stop), as systemd's Restart=always does."""
        def loop():
            while not self._watching.wait(every):
                for part in list(self.parts.values()):
                    if part.name != "redis" and not part.expected_down and part.process.poll() is not None:
                        with self._lock:
                            self.restarts += 1
                            self.deaths.append((time.time(), part.name, part.process.returncode))
                        self._spawn(part)
        threading.Thread(target=loop, name="supervisor", daemon=True).start()

    def stop(self) -> None:
        """Stop every part, the supervisor first."""
        self._watching.set()
        for name in reversed(list(self.parts)):
            self.kill(name, signal.SIGTERM)
        self._kill_strays()
        for stop in reversed(self.stops):
            stop()

    def _kill_strays(self) -> None:
        """SIGKILL any process still holding a file of the instance folder.

        rq's work horse leaves its worker's session, so a worker SIGKILLed mid-job leaves its horse
        running outside the process group that kill() signals; a horse waiting on the database would
        outlive the run.
        """
        folder = str(self.instance)
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                held = any(os.readlink(fd).startswith(folder) for fd in (proc / "fd").iterdir())
            except OSError:
                continue   # ended while we looked, or not ours to read
            if held:
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def log_tail(self, name: str, chars: int = 1500) -> str:
        path = self.instance / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # -- what the sandboxes recorded ---------------------------------------------------------------
    def wecom_state(self):
        from sandbox.wecom import sandbox_state
        return sandbox_state(self.wecom)

    def dingtalk_state(self):
        from sandbox.dingtalk import dingtalk_sandbox_state
        return dingtalk_sandbox_state(self.dingtalk)

    def card_arrivals(self) -> dict[str, float]:
        """Return every card's first arrival stamp at either sandbox, by task id."""
        wecom, ding = self.wecom_state(), self.dingtalk_state()
        with wecom.lock:
            found = {task: send["sent_at"] for task, send in wecom.tasks.items() if send["recipients"]}
        with ding.lock:
            found |= {track: card["created_at"] for track, card in ding.cards.items() if card["recipients"]}
        return found

    def received(self) -> dict[str, list[dict]]:
        """Return what each account received on either platform, oldest first."""
        found: dict[str, list[dict]] = {}
        for state in (self.wecom_state(), self.dingtalk_state()):
            with state.lock:
                users = list(state.chats)
            for user in users:
                found.setdefault(user, []).extend(state.messages(user))
        return found


def configure(instance: Path, database_url: str, *, redis_port: int, app_port: int,
              extra: dict[str, str] | None = None) -> None:
    """Set the environment every part of the plant reads its settings from."""
    os.environ.update({
        "INSTANCE_PATH": str(instance), "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "PUBLIC_BASE_URL": f"http://127.0.0.1:{app_port}",
        "QUIET_HOURS": "off", "DEFAULT_PLATFORM": "wecom",
        "WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET, "DINGTALK_CORP_ID": DING_CORP,
        "DINGTALK_MODE": "stream", "DINGTALK_TOKEN": EVENT_TOKEN, "DINGTALK_AES_KEY": EVENT_AES_KEY,
        **(extra or {})})


def open_plant(*, instance: Path, database_url: str, extra_env: dict[str, str] | None = None) -> Plant:
    """Start Redis and both sandboxes, build the schema and the sample plant (people split between platforms)."""
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    plant = Plant(instance=instance, database_url=database_url, redis_port=support.free_port())
    app_port = support.free_port()
    configure(instance, database_url, redis_port=plant.redis_port, app_port=app_port, extra=extra_env)
    plant.app_url = f"http://127.0.0.1:{app_port}"
    plant.wecom = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN,
                                       aes_key=AES_KEY)
    plant.dingtalk = create_dingtalk_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, corp_id=DING_CORP,
                                             robot_code=APP_KEY)
    plant.wecom_url, stop_wecom = run_in_thread(plant.wecom)
    plant.dingtalk_url, stop_ding = run_dingtalk_sandbox(plant.dingtalk)
    plant.stops += [stop_wecom, stop_ding]
    os.environ.update({"WECOM_API_BASE": plant.wecom_url, "WECOM_OAUTH_BASE": plant.wecom_url,
                       "DINGTALK_API_BASE": plant.dingtalk_url, "DINGTALK_OAPI_BASE": plant.dingtalk_url,
                       "DINGTALK_LOGIN_BASE": plant.dingtalk_url})
    plant.start_redis()
    import settings
    settings.configure()
    _fresh_schema(database_url)
    from exports.org_import import load_org
    load_org(SAMPLE_ORG)
    _split_platforms()
    return plant


def _fresh_schema(url: str) -> None:
    """Drop the project's tables and build the schema from nothing, as the tests do."""
    from models import MODELS, connect
    from models.schema import upgrade
    db = connect(url)
    pg = db.__class__.__name__.startswith("Postgres")
    db.drop_tables(MODELS, safe=True, **({"cascade": True} if pg else {}))
    upgrade()


def _split_platforms() -> None:
    """Put every other person of the sample plant on DingTalk only, the rest on WeCom only."""
    from models import Person, transaction
    with transaction():
        for person in Person.select().order_by(Person.id):
            account = person.wecom_userid or person.dingtalk_userid
            if account is None:
                continue
            if person.id % 2:
                person.wecom_userid, person.dingtalk_userid = None, account
            else:
                person.wecom_userid, person.dingtalk_userid = account, None
            person.save()


def register_detectors(count: int, *, interval: int = 1) -> list[dict]:
    """Register count detectors, each in a unit of its own with one 安全员 (platforms alternating)."""
    from models import Department, Person, PersonRole, Sensor, transaction
    from models.org import UNIT
    from models.sensor import PORTABLE
    parent = Department.get(Department.code == "PROD")
    made = []
    with transaction():
        for i in range(1, count + 1):
            unit = Department.create(code=f"PLANT{i:04d}", name=f"区域{i:04d}", parent=parent, kind=UNIT)
            account = f"aq{i:04d}"
            officer = Person.create(name=f"安全员{i:04d}", department=unit,
                                    **({"dingtalk_userid": account} if i % 2 else {"wecom_userid": account}))
            PersonRole.create(person=officer, role="安全员")
            sensor = Sensor.create(code=f"GD-P{i:04d}", name=f"检测仪{i:04d}", area=f"区域{i:04d}", kind=PORTABLE,
                                   gases=list(CLEAN), interval_seconds=interval, unit=unit,
                                   secret=secrets.token_hex(16))
            made.append({"index": i - 1, "code": sensor.code, "secret": sensor.secret})
    return made


def enrol_members(plant: Plant) -> None:
    """Make every person with an account a member of that platform's sandbox."""
    from models import Person
    people = list(Person.select())
    plant.wecom_state().set_users([p.wecom_userid for p in people if p.wecom_userid])
    plant.dingtalk_state().set_users([p.dingtalk_userid for p in people if p.dingtalk_userid],
                                     {p.dingtalk_userid: p.name for p in people if p.dingtalk_userid})


def start_app(plant: Plant, *, workers: int = 2, web_workers: int = 2, web_threads: int = 4,
              schedulers: int = 1, scan_every: float = 5, sweep_every: float = 2) -> None:
    """Start serve, the workers, the schedulers and the Stream connection; wait until each is up."""
    from models import database
    database.close_all()   # the parts open their own connections; a SQLite writer of ours would block them
    port = plant.app_url.rsplit(":", 1)[1]
    serve = plant.add("serve", "serve", "--port", port, "--workers", str(web_workers), "--threads", str(web_threads))
    support.wait_http(f"{plant.app_url}/healthz", serve.process)
    requests.post(f"{plant.wecom_url}/sandbox/config", json={"callback_url": f"{plant.app_url}/wecom/callback"},
                  timeout=10).raise_for_status()
    requests.post(f"{plant.dingtalk_url}/sandbox/config", timeout=10, json={
        "mode": "stream", "card_callback_url": f"{plant.app_url}/dingtalk/card",
        "robot_callback_url": f"{plant.app_url}/dingtalk/robot", "event_url": f"{plant.app_url}/dingtalk/events",
        "event_token": EVENT_TOKEN, "event_aes_key": EVENT_AES_KEY}).raise_for_status()
    for k in range(workers):
        plant.add(f"worker-{k}", "worker", "--quiet", "--sweep-every", str(sweep_every), "--alarm-workers", "1")
    for k in range(schedulers):
        plant.add(f"scheduler-{k}", "scheduler", "--every", str(scan_every))
    stream = plant.add("stream", "dingtalk-stream")
    wait_stream(plant, stream.process)
    _wait_workers(plant, workers)
    plant.watch()


def wait_stream(plant: Plant, process, seconds: float = 30) -> None:
    """Wait until the DingTalk gateway holds a connection of the app's."""
    deadline = time.monotonic() + seconds
    while not requests.get(f"{plant.dingtalk_url}/sandbox/stream", timeout=5).json().get("connections"):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the Stream connection did not come up:\n{plant.log_tail('stream')}")
        time.sleep(0.1)


def _wait_workers(plant: Plant, count: int) -> None:
    from redis import Redis
    from rq import Worker
    from jobs import alarm_queue
    connection = Redis(port=plant.redis_port)
    deadline = time.monotonic() + 180   # six processes importing the app at once: minutes on a busy 2-core machine
    alarm_loops = alarm_queue.LOOPS
    # Each worker: the ordinary lane (an rq worker) and one alarm lane (a loop that says it lives).
    while (len(Worker.all(connection=connection)) < count
           or connection.zcount(alarm_loops, time.time() - alarm_queue.ALIVE, "+inf") < count):
        if time.monotonic() > deadline:
            sys.exit(f"the workers did not start:\n{plant.log_tail('worker-0')}")
        time.sleep(0.1)


# -- people acting ---------------------------------------------------------------------------------

def phone_for(plant: Plant):
    """Return a phone that acts for each person on the platform their account is on."""
    from handlers.demo.scripted import DingTalkPhone, MixedPhone, Phone
    return MixedPhone(Phone(plant.wecom_url, plant.app_url), DingTalkPhone(plant.dingtalk_url, plant.app_url))


def apply_text(serial: int, tz) -> str:
    """Return the chat text that applies for one 二级 hot-work permit at a site of its own."""
    now = datetime.now(tz)
    start, end = f"{now - timedelta(minutes=5):%Y-%m-%d %H:%M}", f"{now + timedelta(hours=4):%Y-%m-%d %H:%M}"
    return (f"申请动火作业\n地点: 3#罐区东侧管廊 {serial}号口\n内容: DN100 管线法兰焊接\n级别: 二级\n介质: 甲烷\n"
            f"开始: {start}\n结束: {end}\n作业人: jianghan,shenli\n监护人: chuwei")


def wait_drained(seconds: float) -> int:
    """Wait until no outbox row waits to be sent; return how many still do."""
    from models import Outbox, database
    deadline = time.monotonic() + seconds
    while True:
        waiting = Outbox.select().where(Outbox.state.in_(("pending", "sending"))).count()
        database.close()
        if not waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(1)


def settled(permit_no: str, *, seconds: float = 60) -> None:
    """Wait until no kept Stream event waits to be handled and none of the permit's outbox rows waits to
    be sent (or seconds pass): a Stream click is ACKed once kept, and its effects come when a worker
    has handled it."""
    from models import InboxEvent, Outbox, database
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            waiting = (InboxEvent.select().where(InboxEvent.handled_at.is_null()).exists()
                       or Outbox.select().where((Outbox.permit_no == permit_no)
                                                & Outbox.state.in_(("pending", "sending"))).exists())
        except Exception:  # noqa: BLE001 - the database may be away for a while: wait it out
            waiting = True
        finally:
            database.close()
        if not waiting:
            return
        time.sleep(0.2)
