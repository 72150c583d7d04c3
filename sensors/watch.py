"""Which detectors watch which permits: portable ones bound by number, fixed ones by location."""
from __future__ import annotations

from datetime import datetime, timedelta

import settings
from models import Permit, Person, RegistryVersion, Sensor, SensorBinding
from models.db import compiled
from models.sensor import FIXED
from workflow import machine, places
from workflow.errors import InvalidPermit, NotAuthorized, NotFound
from workflow.states import IN_APPROVAL, IN_PROGRESS, ISSUED, SUSPENDED


# A detector's readings count for a permit from approval until the work is done.
WATCHED = (IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED)


def covers(sensor: Sensor, permit: Permit) -> bool:
    """A fixed detector covers the permits in its area and in the places under it."""
    return sensor.kind == FIXED and places.covers(sensor.area, permit)


def _bound_query():
    return (Permit.select().join(SensorBinding)
            .where((SensorBinding.sensor == 0) & SensorBinding.released_at.is_null() & Permit.state.in_(WATCHED)))


def _watched_query():
    return Permit.select().where(Permit.state.in_(WATCHED))


def watched_permits(sensor: Sensor) -> list[Permit]:
    """Return the permits sensor's readings count for, oldest first."""
    # Asked again under lock for every reading that raises or clears an alarm: compiled once.
    bound = Permit.raw(compiled(("watched permits", "bound"), _bound_query), sensor.id, *WATCHED)
    found = {p.id: p for p in bound}
    if sensor.kind == FIXED:
        inside = places.coverage(sensor.area)
        for permit in Permit.raw(compiled(("watched permits", "all"), _watched_query), *WATCHED):
            if inside(permit):
                found.setdefault(permit.id, permit)
    return sorted(found.values(), key=lambda p: p.id)


def sensors_of(permit: Permit) -> list[Sensor]:
    """Return the enabled detectors watching permit."""
    bound = (Sensor.select().join(SensorBinding)
             .where((SensorBinding.permit == permit) & SensorBinding.released_at.is_null()
                    & (Sensor.enabled == True)))  # noqa: E712
    found = {s.id: s for s in bound}
    for sensor in Sensor.select().where((Sensor.kind == FIXED) & (Sensor.enabled == True)):  # noqa: E712
        if covers(sensor, permit):
            found.setdefault(sensor.id, sensor)
    return sorted(found.values(), key=lambda s: s.code)


def silent_for(sensor: Sensor, since: datetime, now: datetime) -> float:
    """Seconds the detector has said nothing: since its last reading, or since `since` if it never reported."""
    # Not the later of the two: a detector silent before the work started is no fresher for it.
    last = sensor.last_seen_at or since
    return (now - last).total_seconds()


def allowed_silence(sensor: Sensor) -> timedelta:
    return timedelta(seconds=sensor.interval_seconds * settings.current().sensor_offline_factor)


def reporting(sensor: Sensor, now: datetime) -> bool:
    """True when the detector is online and its last reading is within its allowed silence."""
    return (sensor.offline_since is None and sensor.last_seen_at is not None
            and now - sensor.last_seen_at <= allowed_silence(sensor))


def monitoring_problems(permit: Permit, *, at: datetime) -> list[str]:
    """The start gate's check for continuous monitoring: a bound detector that is reporting."""
    watching = sensors_of(permit)
    if any(reporting(sensor, at) for sensor in watching):
        return []
    if not watching:
        return [f"本作业须连续监测：未绑定检测仪，请发送：绑定检测仪 {permit.no} <检测仪编号>"]
    codes = "、".join(sensor.code for sensor in watching)
    return [f"本作业须连续监测：检测仪 {codes} 未在上报，请检查后再开工"]


def _sensor(code: str) -> Sensor:
    sensor = Sensor.get_or_none(Sensor.code == code.strip().upper())
    if sensor is None:
        raise NotFound(f"没有编号为 {code} 的检测仪")
    if not sensor.enabled:
        raise InvalidPermit(f"检测仪 {sensor.code} 已停用")
    return sensor


def _may_bind(ctx, by: Person) -> None:
    if by.id not in machine.involved(ctx.permit):
        raise NotAuthorized(f"{by.name}与本作业票无关，不能绑定检测仪")


def bind(permit_no: str, code: str, *, by: Person, now: datetime | None = None):
    """Bind a detector to a permit (绑定检测仪); a portable one watches one permit at a time."""
    def body(ctx) -> None:
        _may_bind(ctx, by)
        sensor = _sensor(code)
        others = (SensorBinding.select().join(Permit)
                  .where((SensorBinding.sensor == sensor) & SensorBinding.released_at.is_null()
                         & Permit.state.in_(WATCHED)))
        for binding in others:
            if binding.permit_id == ctx.permit.id:
                raise InvalidPermit(f"检测仪 {sensor.code} 已绑定在本作业票上")
            raise InvalidPermit(f"检测仪 {sensor.code} 正在监测 {binding.permit.no}，请先解绑")
        SensorBinding.create(sensor=sensor, permit=ctx.permit, bound_by=by, bound_at=ctx.now)
        RegistryVersion.bump()
        ctx.bump, ctx.data = False, {"sensor": sensor.code}
        ctx.detail = f"已绑定检测仪 {sensor.code}（{sensor.name}，每 {sensor.interval_seconds} 秒上报）"
    return machine.run(permit_no, "bind_sensor", body, by=by, now=now)


def unbind(permit_no: str, code: str, *, by: Person, now: datetime | None = None):
    """Release a detector from a permit (解绑检测仪)."""
    def body(ctx) -> None:
        _may_bind(ctx, by)
        sensor = _sensor(code)
        released = (SensorBinding.update(released_at=ctx.now)
                    .where((SensorBinding.sensor == sensor) & (SensorBinding.permit == ctx.permit)
                           & SensorBinding.released_at.is_null()).execute())
        if not released:
            raise InvalidPermit(f"检测仪 {sensor.code} 未绑定在本作业票上")
        RegistryVersion.bump()
        ctx.bump, ctx.data = False, {"sensor": sensor.code}
        ctx.detail = f"已解绑检测仪 {sensor.code}"
    return machine.run(permit_no, "unbind_sensor", body, by=by, now=now)
