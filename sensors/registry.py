"""The detector map every reading is judged against, cached per process and refreshed on change.

A clean reading must cost almost nothing, so the detectors, their gateways and the permits each
one watches are read once and kept. Every process checks cheap things per post: the registry
counter (grows when a detector, gateway or binding changes), the newest detector and gateway ids,
and the ids and versions of the watched permits (a permit's version grows with each of its
transitions). Any of them moving rebuilds the map, so a binding counts from the next reading,
in every process, with no restart.
"""
from __future__ import annotations

import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from peewee import InterfaceError, OperationalError, Select, fn

from models import Gateway, Permit, RegistryVersion, Sensor, SensorBinding, database, transaction
from models.sensor import FIXED

from . import watch

SECRET_BYTES = 16


@dataclass(frozen=True)
class Snapshot:
    key: tuple
    sensors: dict[str, Sensor]                       # by code
    permits: dict[int, tuple[Permit, ...]] = field(default_factory=dict)   # by sensor id, oldest first
    gateways: dict[str, Gateway] = field(default_factory=dict)             # by code

    def watched(self, sensor: Sensor) -> list[Permit]:
        """Return the permits sensor's readings count for, as of this snapshot."""
        return list(self.permits.get(sensor.id, ()))


_lock = threading.Lock()
_current: Snapshot | None = None


def _database_token() -> str:
    # A map belongs to one database: a process (or a test run) that reconnects starts afresh.
    db = database.obj
    token = getattr(db, "_detector_map_token", None)
    if token is None:
        token = db._detector_map_token = secrets.token_hex(8)
    return token


def _key_queries() -> tuple[tuple[str, list], tuple[str, list]]:
    """The two constant statements of the key, compiled once per database: compiling costs more than running."""
    db = database.obj
    compiled = getattr(db, "_detector_map_key_sql", None)
    if compiled is None:
        # The newest ids catch a detector or gateway inserted without the counter (a script, a test).
        counters = Select(columns=[RegistryVersion.select(fn.MAX(RegistryVersion.value)),
                                   Sensor.select(fn.MAX(Sensor.id)), Gateway.select(fn.MAX(Gateway.id))])
        watched = (Permit.select(Permit.id, Permit.version).where(Permit.state.in_(watch.WATCHED))
                   .order_by(Permit.id))
        compiled = db._detector_map_key_sql = (db.get_sql_context().sql(counters).query(), watched.sql())
    return compiled


def _key() -> tuple:
    counters, watched = _key_queries()
    version, newest_sensor, newest_gateway = database.execute_sql(*counters).fetchone()
    permits = tuple(tuple(row) for row in database.execute_sql(*watched).fetchall())
    return (_database_token(), version or 0, (newest_sensor, newest_gateway), permits)


def _build(key: tuple) -> Snapshot:
    sensors = {s.code: s for s in Sensor.select()}
    permits = {p.id: p for p in Permit.select().where(Permit.state.in_(watch.WATCHED))}
    found: dict[int, dict[int, Permit]] = {}
    for sensor_id, permit_id in (SensorBinding.select(SensorBinding.sensor, SensorBinding.permit)
                                 .where(SensorBinding.released_at.is_null()).tuples()):
        if permit_id in permits:
            found.setdefault(sensor_id, {})[permit_id] = permits[permit_id]
    for sensor in sensors.values():
        if sensor.kind == FIXED:
            for permit in permits.values():
                if watch.covers(sensor, permit):
                    found.setdefault(sensor.id, {}).setdefault(permit.id, permit)
    ordered = {sid: tuple(sorted(ps.values(), key=lambda p: p.id)) for sid, ps in found.items()}
    return Snapshot(key, sensors, ordered, {g.code: g for g in Gateway.select()})


_pinned = threading.local()


@contextmanager
def pinned():
    """Within the block, every snapshot() of this thread after the first is that first one.

    A post asks for the map while verifying and again while judging; one key check per post is
    enough, and both steps then judge by the same map.
    """
    _pinned.snap, _pinned.active = None, True
    try:
        yield
    finally:
        _pinned.snap, _pinned.active = None, False


def snapshot() -> Snapshot:
    """Return the current map, rebuilt only when the registry or a watched permit changed."""
    if getattr(_pinned, "active", False):
        if _pinned.snap is None:
            _pinned.snap = _fresh()
        return _pinned.snap
    return _fresh()


def _fresh() -> Snapshot:
    global _current
    current = _current
    try:
        key = _key()
    except (OperationalError, InterfaceError):
        if current is None:
            raise
        # The database is busy or away: judging by the last map beats refusing an alarm.
        return current
    if current is not None and current.key == key:
        return current
    with _lock:
        if _current is None or _current.key != key:
            _current = _build(key)
        return _current


def cached() -> Snapshot | None:
    """Return the last map built in this process, without asking the database (it may be stale)."""
    return _current


def sensor(code: str) -> Sensor | None:
    """Return the registered detector of code."""
    return snapshot().sensors.get(code)


def register_gateway(code: str, name: str, devices: list[str]) -> str:
    """Register (or re-key) a gateway, link the detectors it posts for, and return its new secret."""
    code = code.strip().upper()
    wanted = [d.strip().upper() for d in devices]
    secret = secrets.token_hex(SECRET_BYTES)
    with transaction():
        gateway = Gateway.get_or_none(Gateway.code == code)
        if gateway is None:
            gateway = Gateway.create(code=code, name=name, secret=secret)
        else:
            gateway.name, gateway.secret = name, secret
            gateway.save()
        known = {c for (c,) in Sensor.select(Sensor.code).where(Sensor.code.in_(wanted)).tuples()}
        missing = [d for d in wanted if d not in known]
        if missing:
            raise LookupError(f"未登记的检测仪：{'、'.join(missing[:10])}")
        Sensor.update(gateway=gateway).where(Sensor.code.in_(wanted)).execute()
        RegistryVersion.bump()
    return secret
