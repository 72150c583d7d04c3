"""Authenticate a detector's post, check every reading in it, then store and evaluate them.

The order matters: nothing is stored until the whole body has passed (one bad reading refuses a
batch), and the signature is checked before anything about the detector is revealed beyond
"unknown device".
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import settings
from models import Alarm, GasReading, Permit, RegistryVersion, Sensor, database, transaction, utcnow
from models.db import compiled, for_update, insert_rows
from workflow import gas, template as templates
from workflow.states import IN_PROGRESS

from . import alarms, levels, registry, watch

MAX_BODY = 64 * 1024
MAX_BATCH = 100
INSERT_CHUNK = 500     # rows per INSERT: under every engine's limit on bound parameters
BACKLOG = timedelta(hours=1)   # a detector may post what it buffered during a network outage
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")
_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,31}")


class Refused(Exception):
    """The post is refused; status is the HTTP status, code a stable name, message plain Chinese."""

    def __init__(self, status: int, code: str, message: str, **detail):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail

    def as_json(self) -> dict:
        return {"error": self.code, "message": self.message, **self.detail}


@dataclass(frozen=True)
class Reading:
    taken_at: datetime          # naive UTC, whole seconds, like every time in the database
    values: dict[str, float]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the X-Signature header value a detector sends for body at timestamp."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _no_constants(name: str):
    raise Refused(422, "invalid_value", f"读数 {name} 不是有限的数")


def _timestamp(raw: str | None, now: datetime) -> str:
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Refused(401, "missing_timestamp", "缺少 X-Timestamp（Unix 秒）")
    skew = settings.current().sensor_skew_seconds
    offset = int(raw) - now.replace(tzinfo=timezone.utc).timestamp()
    if offset < -skew:
        raise Refused(401, "stale_timestamp", f"X-Timestamp 早于服务器时间 {-offset:.0f} 秒，超过允许的 {skew} 秒")
    if offset > skew:
        raise Refused(401, "future_timestamp", f"X-Timestamp 晚于服务器时间 {offset:.0f} 秒，超过允许的 {skew} 秒")
    return raw


def _no_duplicates(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        # json would keep the last of two "H2S" silently, and an alarm with it.
        twice = "、".join(sorted({key for key in keys if keys.count(key) > 1}))
        raise Refused(400, "malformed_json", f"请求体中的键 {twice[:40]} 出现了两次")
    return dict(pairs)


def _items(body: bytes, limit: int = MAX_BATCH, *, over: int = 400) -> list[dict]:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except ValueError as exc:  # bad UTF-8, bad JSON, or an integer of more digits than Python parses
        raise Refused(400, "malformed_json", f"请求体不是合法的 JSON：{exc}") from None
    except RecursionError:     # arrays or objects nested thousands deep
        raise Refused(400, "malformed_json", "请求体不是合法的读数：JSON 嵌套过深") from None
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > limit:
        raise Refused(over if items else 400, "bad_batch", f"一次上报 1–{limit} 条读数，收到 {len(items)} 条")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("device"), str) \
                or not isinstance(item.get("ts"), str) or not isinstance(item.get("values"), dict) \
                or not item["values"]:
            raise Refused(400, "malformed_reading",
                          f"第 {index + 1} 条读数须含 device（字符串）、ts（ISO 8601 时间）和非空的 values",
                          index=index)
    return items


def _device(items: list[dict]) -> str:
    devices = {item["device"] for item in items}
    if len(devices) != 1:
        raise Refused(400, "mixed_devices", "一次上报只能含同一台检测仪的读数（签名属于一台检测仪）")
    device = devices.pop()
    if not _DEVICE.fullmatch(device):
        raise Refused(400, "malformed_reading", f"检测仪编号 {device[:40]!r} 格式不对")
    return device


def _authenticate(device: str, timestamp: str, signature: str | None, body: bytes) -> Sensor:
    match = _SIGNATURE.fullmatch(signature or "")
    if match is None:
        raise Refused(401, "missing_signature", "缺少或无法识别 X-Signature，应为 sha256=<64 位十六进制>")
    sensor = registry.sensor(device.upper())
    if sensor is None:
        raise Refused(401, "unknown_device", f"未登记的检测仪 {device}")
    if not hmac.compare_digest(sign(sensor.secret, timestamp, body), f"sha256={match[1]}"):
        raise Refused(401, "bad_signature", "签名不符：请核对检测仪密钥和签名算法")
    if not sensor.enabled:
        raise Refused(403, "device_disabled", f"检测仪 {sensor.code} 已停用")
    return sensor


def _reading(sensor: Sensor, index: int, item: dict, now: datetime, where: str = "") -> Reading:
    where = where or f"第 {index + 1} 条读数"
    try:
        taken = datetime.fromisoformat(item["ts"])
    except ValueError:
        raise Refused(400, "bad_ts", f"{where}的时间 {item['ts'][:40]!r} 不是 ISO 8601 格式") from None
    if taken.tzinfo is None:
        raise Refused(400, "bad_ts", f"{where}的时间须带时区，如 2026-11-24T08:01:00+08:00")
    taken = taken.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    skew = timedelta(seconds=settings.current().sensor_skew_seconds)
    if taken > now + skew:
        raise Refused(422, "future_reading", f"{where}的时间晚于当前时间")
    if taken < now - BACKLOG:
        raise Refused(422, "stale_reading", f"{where}早于 {int(BACKLOG.total_seconds() // 60)} 分钟前，不再受理")
    values = {}
    for key, raw in item["values"].items():
        code = str(key).strip().upper()
        if code in values:
            raise Refused(422, "duplicate_gas", f"{where}的 {code} 出现了两次")
        if code not in gas.UNITS:
            raise Refused(422, "unknown_gas", f"{where}含未知的气体代号 {str(key)[:20]!r}（可用 {'、'.join(gas.GASES)}）",
                          field=f"values.{str(key)[:20]}")
        if code not in sensor.gases:
            raise Refused(422, "unregistered_gas", f"{where}含 {code}，检测仪 {sensor.code} 登记的测量气体为 "
                                                   f"{'、'.join(sensor.gases)}", field=f"values.{str(key)[:20]}")
        try:
            values[code] = levels.check_value(code, raw)
        except ValueError as exc:
            raise Refused(422, "invalid_value", f"{where}：{exc}", field=f"values.{str(key)[:20]}") from None
    return Reading(taken, values)


def verify(body: bytes, headers, now: datetime | None = None) -> tuple[Sensor, list[Reading], str]:
    """Check a post completely; return the detector, its readings and the signature (for replays)."""
    now = now or utcnow()
    if len(body) > MAX_BODY:
        raise Refused(413, "body_too_large", f"请求体超过 {MAX_BODY // 1024} KB")
    timestamp = _timestamp(headers.get("X-Timestamp"), now)
    items = _items(body)
    sensor = _authenticate(_device(items), timestamp, headers.get("X-Signature"), body)
    readings = [_reading(sensor, i, item, now) for i, item in enumerate(items)]
    return sensor, readings, headers["X-Signature"]


@dataclass(frozen=True)
class Result:
    stored: int
    alarms: tuple[int, ...]
    suspended: tuple[str, ...]

    def as_json(self) -> dict:
        return {"stored": self.stored, "alarms": list(self.alarms), "suspended": list(self.suspended)}


def _judge(permit: Permit, sensor: Sensor, values: dict[str, float]) -> tuple[bool | None, gas.Verdict, gas.Verdict]:
    """Judge a reading for permit: (gate verdict: None when within limits but incomplete, full, any-fail)."""
    t = templates.get(permit.work_type)
    kwargs = dict(medium=permit.medium, limits=gas.limits_from(t.gas.limits), oxygen_range=t.gas.oxygen_range)
    full = gas.evaluate(values, required=t.gas.required, **kwargs)
    measured = gas.evaluate(values, **kwargs)
    # A detector that measures fewer gases than the permit needs cannot open the gas gate, yet
    # its readings within limits must not count as a failed analysis either.
    passed = full.passed if full.passed or not measured.passed else None
    return passed, full, measured


def ingest(sensor: Sensor, readings: list[Reading], now: datetime | None = None) -> Result:
    """Store and evaluate one detector's readings; raise alarms and suspend work at once."""
    return store(prepare([(sensor, readings)], now=now))


@dataclass(frozen=True)
class Batch:
    """Readings judged against the cached detector map, ready to be written in bulk."""
    posts: tuple[tuple[Sensor, tuple[Reading, ...]], ...]
    rows: tuple[dict, ...]
    eventful: frozenset[int]     # detectors whose readings change something: alarm, clear, back online
    now: datetime

    @property
    def urgent(self) -> bool:
        """True when storing this batch changes something beyond the readings themselves."""
        return bool(self.eventful)


def prepare(posts: list[tuple[Sensor, list[Reading]]], *, now: datetime | None = None) -> Batch:
    """Judge every reading against the cached map; decide which detectors need the full evaluation."""
    now = now or utcnow()
    snap = registry.snapshot()
    alarmed = _alarmed([sensor.id for sensor, _ in posts])
    rows, eventful = [], set()
    for sensor, readings in posts:
        sensor = snap.sensors.get(sensor.code, sensor)
        permits = snap.watched(sensor)
        if sensor.id in alarmed or sensor.offline_since is not None:
            eventful.add(sensor.id)
        for reading in readings:
            judged = {p.id: _judge(p, sensor, reading.values) for p in permits}
            rows += _rows(sensor, reading, permits, judged, now)
            if levels.trips(reading.values, sensor.set_points) or any(p.state == IN_PROGRESS and not judged[p.id][2].passed
                                                   for p in permits):
                eventful.add(sensor.id)
    frozen = tuple((sensor, tuple(readings)) for sensor, readings in posts)
    return Batch(frozen, tuple(rows), frozenset(eventful), now)


def _alarmed(ids: list[int]) -> set[int]:
    """Which of these detectors have an alarm that a normal reading would clear."""
    found = set()
    # Only the posting detectors: the plant's other alarms are no business of this post.
    for chunk in chunked(sorted(set(ids)), INSERT_CHUNK):
        sql = compiled(("alarmed detectors", len(chunk)), lambda: _alarmed_query(len(chunk)))
        found |= {sid for (sid,) in database.execute_sql(sql, [*alarms.ACTIVE_LEVELS, *chunk]).fetchall()}
    return found


def _alarmed_query(size: int):
    return Alarm.select(Alarm.sensor).where(
        Alarm.cleared_at.is_null() & Alarm.level.in_(alarms.ACTIVE_LEVELS) & Alarm.sensor.in_([0] * size))


def chunked(items, size: int):
    """Yield items in slices of at most size.

    peewee's chunked pads every group to its full size before trimming it, which for the one row of
    a detector's post costs more than the row's insert.
    """
    items = items if isinstance(items, (list, tuple)) else list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Every column but the id, in the order of the rows _rows makes.
ROW_FIELDS = tuple(f for f in GasReading._meta.sorted_fields if f.name != "id")


def store(batch: Batch) -> Result:
    """Write the batch in one transaction; only an eventful detector locks its row and its permits."""
    raised, suspended = [], []
    with transaction():
        _no_replays(batch.posts)
        for chunk in chunked(batch.rows, INSERT_CHUNK):
            insert_rows(GasReading, ROW_FIELDS, [tuple(row[f.name] for f in ROW_FIELDS) for row in chunk])
        _touch(batch.posts)
        for sensor, readings in batch.posts:
            if sensor.id in batch.eventful:
                alarm_ids, stopped = _follow(sensor, readings, batch.now)
                raised += alarm_ids
                suspended += stopped
    return Result(len(batch.rows), tuple(raised), tuple(suspended))


def _no_replays(posts) -> None:
    codes = [sensor.code for sensor, _ in posts]
    times = sorted({r.taken_at for _, readings in posts for r in readings})
    seen = set()
    stamps = [GasReading.taken_at.db_value(t) for t in times]
    for chunk in chunked(codes, INSERT_CHUNK):
        sql = compiled(("replays", len(chunk), len(times)), lambda: _replays_query(chunk, times))
        seen |= {(device, _naive(at)) for device, at in database.execute_sql(sql, [*chunk, *stamps]).fetchall()}
    if not seen:
        return
    for sensor, readings in posts:
        for reading in readings:
            if (sensor.code, reading.taken_at) in seen:
                raise Refused(409, "replayed", f"这些读数已受理过（重复上报）：检测仪 {sensor.code} "
                                               f"{reading.taken_at:%Y-%m-%d %H:%M:%S}（UTC）的读数",
                              device=sensor.code)


def _replays_query(codes, times):
    return (GasReading.select(GasReading.device, GasReading.taken_at)
            .where(GasReading.device.in_(codes) & GasReading.taken_at.in_(times)))


def _naive(at) -> datetime:
    # SQLite hands back text, the servers a datetime: compare as the naive UTC the rows were written as.
    return GasReading.taken_at.python_value(at)


def _touch(posts) -> None:
    """Move each detector's last contact forward, one statement per distinct newest time."""
    by_time: dict[datetime, list[int]] = {}
    for sensor, readings in posts:
        by_time.setdefault(max(r.taken_at for r in readings), []).append(sensor.id)
    for newest, ids in by_time.items():
        stamp = Sensor.last_seen_at.db_value(newest)
        for chunk in chunked(ids, INSERT_CHUNK):
            sql = compiled(("touch", len(chunk)), lambda: _touch_query(chunk, newest))
            database.execute_sql(sql, [stamp, *chunk, stamp])


def _touch_query(ids, newest):
    return (Sensor.update(last_seen_at=newest)
            .where(Sensor.id.in_(ids) & (Sensor.last_seen_at.is_null() | (Sensor.last_seen_at < newest))))


def _follow(sensor: Sensor, readings, now: datetime) -> tuple[list[int], list[str]]:
    """Evaluate a detector whose readings change something, against fresh rows under lock."""
    sql = compiled(("detector for update",), lambda: for_update(Sensor.select().where(Sensor.id == 0)))
    sensor = next(iter(Sensor.raw(sql, sensor.id)))
    permits = watch.watched_permits(sensor)
    raised, suspended = [], []
    for reading in sorted(readings, key=lambda r: r.taken_at):
        judged = {p.id: _judge(p, sensor, reading.values) for p in permits}
        alarm = _evaluate(sensor, reading, permits, judged, now)
        if alarm is not None:
            raised.append(alarm.id)
            suspended += alarm.suspended
    if sensor.offline_since is not None:
        Sensor.update(offline_since=None).where(Sensor.id == sensor.id).execute()
        alarms.clear(sensor, now, offline=True)
        RegistryVersion.bump()
    return raised, suspended


def _rows(sensor: Sensor, reading: Reading, permits: list[Permit], judged: dict, now: datetime) -> list[dict]:
    upper = reading.values
    common = dict(device=sensor.code, taken_at=reading.taken_at, recorded_at=now, o2=upper.get("O2"),
                  ex=upper.get("EX"), h2s=upper.get("H2S"), co=upper.get("CO"), others=gas.others(upper),
                  location_note=sensor.area, tester=None)
    if not permits:
        return [dict(permit=None, passed=None, verdict={}, **common)]
    return [dict(permit=permit.id, passed=judged[permit.id][0], verdict=judged[permit.id][1].as_dict(), **common)
            for permit in permits]


def _evaluate(sensor: Sensor, reading: Reading, permits: list[Permit], judged: dict, now: datetime):
    """Raise the reading's alarm if it is worse than what is active; clear alarms when it is normal."""
    trips = levels.trips(reading.values, sensor.set_points)
    worst = trips[0] if trips else None
    off_limits = [p for p in permits
                  if p.state == IN_PROGRESS and not judged[p.id][2].passed]
    level = worst.level if worst else None
    text = worst.text if worst else ""
    if off_limits and (level is None or levels.RANK[level] < levels.RANK[levels.OFF_LIMITS]):
        level = levels.OFF_LIMITS
        verdict = judged[off_limits[0].id][2]
        text = f"{text + '；' if text else ''}{off_limits[0].no} 超出作业限值：{verdict.text()}"
    if level is None:
        alarms.clear(sensor, now)
        return None
    current = alarms.active(sensor)
    if current and levels.RANK[current[0].level] >= levels.RANK[level]:
        # The same or a worse alarm is already out; a running permit it missed is still stopped.
        for permit in permits if level in levels.STOPS_WORK else ():
            alarms.stop(permit, f"{level}报警：{text}", now)
        return None
    return alarms.raise_alarm(sensor=sensor, device=sensor.code, level=level, text=text,
                              permits=permits, reading_at=reading.taken_at, now=now,
                              gas=worst.gas if worst else None, value=worst.value if worst else None)
