"""Keep readings where they are evidence; roll the rest up per detector and minute.

Kept in full: every reading recorded for a permit (a detector's readings count for a permit while
it watches it, from approval through work in progress or suspended: the board, the gate checks
and the gas ledger read exactly these), every manual reading, and every reading within the alarm
window before and after any alarm of its detector. Every other reading older than the raw window
is folded into one ReadingRollup row per detector and minute (min, max, last, count) and deleted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import chunked

import settings
from models import Alarm, GasReading, ReadingRollup, transaction, utcnow

CHUNK = 5000     # readings per transaction: short enough that detectors' writes are not held up
GASES = ("o2", "ex", "h2s", "co")


@dataclass(frozen=True)
class Pruned:
    examined: int
    kept: int
    rolled_up: int      # readings folded into rollups and deleted
    minutes: int        # rollup rows created or extended

    def as_dict(self) -> dict:
        return {"examined": self.examined, "kept": self.kept, "rolled_up": self.rolled_up,
                "minutes": self.minutes}


def windows() -> tuple[timedelta, timedelta]:
    """Return (alarm window, raw window) from the settings; the raw window is never shorter."""
    current = settings.current()
    alarm = timedelta(minutes=current.readings_alarm_window_minutes)
    return alarm, max(alarm, timedelta(minutes=current.readings_raw_minutes))


def prune(now: datetime | None = None, *, limit: int | None = None) -> Pruned:
    """Roll up and delete the unattached readings the policy does not keep; return what was done."""
    now = now or utcnow()
    window, raw = windows()
    # Whole minutes only: a minute half rolled up would be rolled up again from its other half.
    cutoff = (now - raw).replace(second=0, microsecond=0)
    examined = kept = rolled = minutes = 0
    last_id = 0
    while limit is None or examined < limit:
        rows = list(GasReading.select(GasReading.id, GasReading.device, GasReading.taken_at, GasReading.o2,
                                      GasReading.ex, GasReading.h2s, GasReading.co, GasReading.others)
                    .where(GasReading.permit.is_null() & GasReading.tester.is_null()
                           & GasReading.device.is_null(False) & (GasReading.taken_at < cutoff)
                           & (GasReading.id > last_id))
                    .order_by(GasReading.id).limit(CHUNK))
        if not rows:
            break
        last_id = rows[-1].id
        examined += len(rows)
        spared = _near_alarms(rows, window)
        doomed = [r for r in rows if r.id not in spared]
        kept += len(rows) - len(doomed)
        if doomed:
            with transaction():
                minutes += _fold(doomed)
                for ids in chunked([r.id for r in doomed], 500):
                    GasReading.delete().where(GasReading.id.in_(ids)).execute()
            rolled += len(doomed)
    return Pruned(examined, kept, rolled, minutes)


def _near_alarms(rows: list[GasReading], window: timedelta) -> set[int]:
    """Ids of the rows within window of an alarm of their own detector."""
    devices = sorted({r.device for r in rows})
    low, high = min(r.taken_at for r in rows) - window, max(r.taken_at for r in rows) + window
    moments: dict[str, list[datetime]] = {}
    for chunk in chunked(devices, 500):
        for device, at in (Alarm.select(Alarm.device, Alarm.reading_at)
                           .where(Alarm.device.in_(chunk) & Alarm.reading_at.between(low, high)).tuples()):
            moments.setdefault(device, []).append(at)
    return {r.id for r in rows if any(abs(r.taken_at - at) <= window for at in moments.get(r.device, ()))}


def _fold(rows: list[GasReading]) -> int:
    """Merge rows into their minutes' rollups (creating or extending them); return how many minutes."""
    groups: dict[tuple[str, datetime], list[GasReading]] = {}
    for row in rows:
        groups.setdefault((row.device, row.taken_at.replace(second=0, microsecond=0)), []).append(row)
    for (device, minute), members in groups.items():
        rollup = ReadingRollup.get_or_none((ReadingRollup.device == device) & (ReadingRollup.minute == minute))
        fields = _summary(members, rollup)
        if rollup is None:
            ReadingRollup.create(device=device, minute=minute, **fields)
        else:
            ReadingRollup.update(**fields).where(ReadingRollup.id == rollup.id).execute()
    return len(groups)


def _summary(rows: list[GasReading], prior: ReadingRollup | None) -> dict:
    newest = max(rows, key=lambda r: (r.taken_at, r.id))
    later = prior is None or newest.taken_at >= prior.last_at
    fields = {"count": len(rows) + (prior.count if prior else 0),
              "last_at": newest.taken_at if later else prior.last_at}
    for gas in GASES:
        values = [getattr(r, gas) for r in rows if getattr(r, gas) is not None]
        if prior is not None:
            values += [v for v in (getattr(prior, f"{gas}_min"), getattr(prior, f"{gas}_max")) if v is not None]
        fields[f"{gas}_min"] = min(values) if values else None
        fields[f"{gas}_max"] = max(values) if values else None
        fields[f"{gas}_last"] = getattr(newest, gas) if later else getattr(prior, f"{gas}_last")
    fields["others"] = _other_summary(rows, prior, newest if later else None)
    return fields


def _other_summary(rows: list[GasReading], prior: ReadingRollup | None, newest: GasReading | None) -> dict | None:
    """{gas: [min, max, last]} of the gases beyond the four columns; last comes from newest if given."""
    before = (prior.others or {}) if prior is not None else {}
    found: dict[str, list] = {}
    for gas in sorted({g for r in rows for g in (r.others or {})} | set(before)):
        values = [r.others[gas] for r in rows if r.others and r.others.get(gas) is not None]
        values += [v for v in (before.get(gas) or [None, None])[:2] if v is not None]
        last = (newest.others or {}).get(gas) if newest is not None else (before.get(gas) or [None] * 3)[2]
        found[gas] = [min(values), max(values), last] if values else [None, None, last]
    return found or None
