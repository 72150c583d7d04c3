"""Fixtures for the gas-detector tests: detectors, signed posts, and sample permits driven to a state."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

import pytest

import settings
from models import Alarm, GasReading, Outbox, Sensor, find_person
from models.org import Department
from models.permit import Permit
from models.sensor import PORTABLE
from sensors import intake, watch
from tests.conftest import MORNING
from workflow import engine, machine, onsite, template, work
from workflow.walkthrough import WALK_DETECTOR, Clock, _act, draft

ALL_GASES = ["O2", "EX", "H2S", "CO"]
GOOD_AIR = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}


def stamp(at: datetime) -> str:
    """Return the X-Timestamp of a naive UTC moment (Unix seconds)."""
    return str(int(at.replace(tzinfo=timezone.utc).timestamp()))


def iso(at: datetime) -> str:
    """Return a naive UTC moment as the ISO 8601 time a detector sends, with its zone."""
    return at.replace(tzinfo=timezone.utc).isoformat()


def signed(body: bytes, secret: str, at: datetime) -> dict:
    """Return the headers a detector sends with body at `at`, signed with its real secret."""
    return {"Content-Type": "application/json", "X-Timestamp": stamp(at),
            "X-Signature": intake.sign(secret, stamp(at), body)}


def body_of(items) -> bytes:
    return json.dumps(items, ensure_ascii=False).encode()


def footprint() -> tuple:
    """What a refused post must leave untouched: readings, alarms, messages, detectors' last contact."""
    return (GasReading.select().count(), Alarm.select().count(), Outbox.select().count(),
            [(s.code, s.last_seen_at, s.offline_since) for s in Sensor.select().order_by(Sensor.id)])


class Site:
    """The sample plant with a clock: make detectors, let them report, drive permits."""

    def __init__(self, start: datetime = MORNING):
        self.start = start                      # the sample permits' planned start
        self.clock = Clock(start - timedelta(minutes=90))

    def detector(self, code: str = "GD-0001", *, kind: str = PORTABLE, gases=ALL_GASES,
                 interval: int = 60, area: str = "常减压装置", enabled: bool = True,
                 unit: str | None = None) -> Sensor:
        """Register a detector as the sensor workbook would."""
        department = Department.get(Department.name == unit) if unit else None
        return Sensor.create(code=code, name=f"{kind}检测仪 {code}", area=area, kind=kind,
                             gases=list(gases), interval_seconds=interval, unit=department,
                             secret=secrets.token_hex(16), enabled=enabled)

    def report(self, sensor: Sensor | str, at: datetime, **values) -> intake.Result:
        """Post one signed reading of sensor taken at `at` (good air unless values say otherwise)."""
        sensor = Sensor.get(Sensor.code == (sensor if isinstance(sensor, str) else sensor.code))
        reading = {g: GOOD_AIR.get(g, 0.0) for g in sensor.gases} | values
        body = body_of([{"device": sensor.code, "ts": iso(at), "values": reading}])
        checked, readings, _ = intake.verify(body, signed(body, sensor.secret, at), now=at)
        return intake.ingest(checked, readings, now=at)

    def bind(self, permit: Permit, sensor: Sensor) -> None:
        watch.bind(permit.no, sensor.code, by=permit.applicant, now=self.clock.tick())

    def permit(self, work_type: str, until: str) -> Permit:
        """Draft the walkthrough's sample permit and act for everyone until it reaches state `until`."""
        permit = draft(work_type, start=self.start)
        engine.submit(permit.no, by=permit.applicant, now=self.clock.tick())
        for _ in range(40):
            permit = Permit.get_by_id(permit.id)
            if permit.state == until:
                return permit
            step = machine.active_step(permit)
            if step.phase == "start" and self.clock.now < permit.planned_start:
                self.clock.now = permit.planned_start
            _act(permit, step, self.clock, lambda line: None)
        raise AssertionError(f"{permit.no} never reached {until}: stuck in {permit.state}")

    def issued(self, work_type: str = "confined_space") -> Permit:
        """An approved permit waiting for its on-site start, its isolation verified: nothing is running yet."""
        from workflow.walkthrough import isolate
        permit = self.permit(work_type, "issued")
        isolate(permit, self.clock, lambda line: None)
        return permit

    def running(self, work_type: str = "confined_space") -> Permit:
        """A permit in progress; confined space runs watched by the walkthrough's detector WT-0001."""
        return self.permit(work_type, "in_progress")

    def attach_start_photos(self, permit: Permit) -> None:
        for kind in template.get(permit.work_type).step("start").gates.photos:
            work.attach(permit.no, by=permit.applicant, kind=kind, data=kind.encode(),
                        filename=f"{kind}.jpg", now=self.clock.tick())

    def on_site(self, permit: Permit, at: datetime) -> None:
        """The guardian and the work leader scan the site's QR code at `at`, as the start needs."""
        for _role, person in onsite.people_in_roles(permit, ("监护人", "作业负责人")):
            engine.check_in(permit.no, by=person, now=at)

    def start_work(self, permit: Permit, at: datetime):
        """The guardian starts the work at `at`, checked in on site with the work leader (the start's
        photos must be attached)."""
        self.on_site(permit, at)
        return engine.start(permit.no, by=find_person("chuwei"), now=at)

    @staticmethod
    def walk_detector() -> Sensor:
        return Sensor.get(Sensor.code == WALK_DETECTOR)


@pytest.fixture
def site(plant) -> Site:
    return Site()


def redis_url(conn) -> str:
    """The URL of the test Redis, for the app's REDIS_URL."""
    kwargs = conn.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


@pytest.fixture
def client(plant, monkeypatch, redis_conn):
    """The Flask app on the test database and the test Redis; yields its test client."""
    from app import create_app
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    monkeypatch.setenv("REDIS_URL", redis_url(redis_conn))
    yield create_app().test_client()
    settings.configure()


def reload(row):
    return type(row).get_by_id(row.id)


def accounts(people) -> set[str]:
    return {p.account for p in people}


def who(account: str):
    return find_person(account)

