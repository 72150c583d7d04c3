"""The period an export covers: whole plant-local days, read from what an admin types."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

MONTH = re.compile(r"(\d{4})-(\d{1,2})")
DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# Far enough for any plant's history, near enough to catch a typo such as 206-11 or 20266-11.
YEARS = range(2000, 2101)


class PeriodError(ValueError):
    """The period is malformed or empty; the message says how to write one."""


@dataclass(frozen=True)
class Period:
    """First and last day, inclusive, in the plant's calendar."""

    first: date
    last: date

    def __post_init__(self):
        if self.first > self.last:
            raise PeriodError(f"开始日期 {self.first} 晚于结束日期 {self.last}")

    @property
    def label(self) -> str:
        """Return 2026-11 for a whole month, else 2026-11-01 至 2026-11-15."""
        if self.is_month:
            return f"{self.first:%Y-%m}"
        return f"{self.first} 至 {self.last}"

    @property
    def slug(self) -> str:
        """Return the label as it goes into a file name."""
        return self.label.replace(" 至 ", "_")

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self.last == _month_end(self.first) and \
            (self.first.year, self.first.month) == (self.last.year, self.last.month)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return [start, end) as the naive UTC datetimes the tables store."""
        def utc(day: date) -> datetime:
            return datetime.combine(day, time(), tz).astimezone(timezone.utc).replace(tzinfo=None)
        return utc(self.first), utc(self.last + timedelta(days=1))

    def months(self) -> list["Period"]:
        """Split into calendar months, the first and last clipped to the period."""
        parts, start = [], self.first
        while start <= self.last:
            end = min(_month_end(start), self.last)
            parts.append(Period(start, end))
            start = end + timedelta(days=1)
        return parts


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month(text: str) -> Period:
    """Read 2026-11 as that whole month."""
    found = MONTH.fullmatch(text.strip())
    if not found or int(found[1]) not in YEARS or not 1 <= int(found[2]) <= 12:
        raise PeriodError(f"月份“{text.strip()}”不对，应写成 2026-11 这样的 年-月")
    first = date(int(found[1]), int(found[2]), 1)
    return Period(first, _month_end(first))


def day(text: str, *, end: bool = False) -> date:
    """Read 2026-11-05 as that day, or 2026-11 as its month's first day (its last when end is set)."""
    text = text.strip()
    if MONTH.fullmatch(text):
        whole = month(text)
        return whole.last if end else whole.first
    found = DAY.fullmatch(text)
    try:
        if not found or int(found[1]) not in YEARS:
            raise ValueError
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise PeriodError(f"日期“{text}”不对，应写成 2026-11-05（或 2026-11 表示整月）") from None


def between(first: str, last: str) -> Period:
    """Read a from/to pair, each a day or a month, as one period."""
    return Period(day(first), day(last, end=True))


def parse(text: str) -> Period:
    """Read what an admin types in chat: 2026-11, 2026-11-01~2026-11-15 or 2026-10 2026-12."""
    parts = [p for p in re.split(r"\s*(?:~|～|至|到|\s)\s*", text.strip()) if p]
    if len(parts) == 1:
        return month(parts[0]) if MONTH.fullmatch(parts[0]) else between(parts[0], parts[0])
    if len(parts) == 2:
        return between(*parts)
    raise PeriodError("期间应写成 2026-11，或 2026-11-01~2026-11-15")
