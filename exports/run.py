"""One export being built: the plant, its clock, the time of export, and how far it has got."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

import settings
from models import database, utcnow

from .sheet import Heading
from .values import PlantClock

PAGE = 1000   # rows per query: every table is read in keyset pages, never whole


def fetch(query, *, datetimes: tuple[int, ...] = ()) -> list:
    """Run query and return its rows as plain tuples, the columns at datetimes as datetimes.

    Peewee would convert every column itself, and on SQLite it reads date text with strptime: a
    large part of a big export's time. Other engines hand over datetimes already.
    """
    rows = list(database.execute(query))
    if not datetimes:
        return rows
    read, out = datetime.fromisoformat, []
    for row in rows:
        row = list(row)
        for i in datetimes:
            if row[i].__class__ is str:
                row[i] = read(row[i])
        out.append(row)
    return out


@dataclass
class Progress:
    """Count work done against work planned; tell a listener each whole percent reached."""

    listener: Callable[[int], None] | None = None
    total: int = 0
    done: int = 0
    _told: int = -1

    def plan(self, units: int) -> None:
        self.total += units

    def advance(self, units: int) -> None:
        self.done += units
        percent = min(99, 100 * self.done // self.total) if self.total else 0
        if self.listener is not None and percent > self._told:
            self._told = percent
            self.listener(percent)


@dataclass
class Run:
    tz: ZoneInfo
    plant: str
    now: datetime                      # naive UTC
    progress: Progress = field(default_factory=Progress)

    def __post_init__(self):
        self.clock = PlantClock(self.tz)

    @classmethod
    def current(cls, listener: Callable[[int], None] | None = None, now: datetime | None = None) -> "Run":
        """Return a run on the configured plant, now."""
        conf = settings.current()
        return cls(conf.plant_tz, conf.plant_name, now or utcnow(), Progress(listener))

    def heading(self, period: str, scope: str = "") -> Heading:
        return Heading(self.plant, period, self.clock(self.now), scope)
