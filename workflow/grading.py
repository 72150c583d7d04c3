"""Work out a permit's grade from what the applicant declared and when and where the work is."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .clock import local
from .errors import InvalidPermit
from .rules import band_grade
from .template import Template

RAISE_LABELS = {"night": "夜间作业", "holiday": "节假日、公休日作业", "wind": "风力≥{force}级",
                "aggravating": "特殊情况：{value}"}


def _overlaps_night(start: datetime, end: datetime, night: tuple[str, str], tz: ZoneInfo) -> bool:
    begin, until = (time.fromisoformat(t) for t in night)
    s, e = local(start, tz), local(end, tz)
    day = s.date() - timedelta(days=1)
    while day <= e.date():
        night_start = datetime.combine(day, begin, tz)
        night_end = datetime.combine(day + timedelta(days=1 if until <= begin else 0), until, tz)
        if s < night_end and e > night_start:
            return True
        day += timedelta(days=1)
    return False


def nightfall_at(day: date, t: Template, seasons: tuple = ()) -> time:
    """Return when day work stops on a plant-local day: the plant's (seasonal) nightfall, else the night's start."""
    chosen = None
    for (month, dom), at in seasons:
        if (month, dom) <= (day.month, day.day):
            chosen = at
    if chosen is None and seasons:
        chosen = seasons[-1][1]   # before the year's first entry, last year's last season holds
    return time.fromisoformat(chosen or t.grading.night[0])


def after_nightfall(moment: datetime, t: Template, tz: ZoneInfo, seasons: tuple = ()) -> bool:
    """Tell whether a stored naive-UTC moment lies between the day's nightfall and the next morning."""
    at = local(moment, tz)
    if at.time() < time.fromisoformat(t.grading.night[1]):
        return True   # before the morning: still the night that began yesterday
    return at.time() >= nightfall_at(at.date(), t, seasons)


def _touches_holiday(start: datetime, end: datetime, t: Template, tz: ZoneInfo,
                     holidays: frozenset[date]) -> bool:
    day, last = local(start, tz).date(), local(end, tz).date()
    while day <= last:
        if day in holidays or (t.grading.weekends_are_holidays and day.weekday() >= 5):
            return True
        day += timedelta(days=1)
    return False


def _raise(levels: tuple[str, ...], grade: str) -> str:
    return levels[min(levels.index(grade) + 1, len(levels) - 1)]


def grade_of(t: Template, attributes: dict, *, start: datetime, end: datetime, tz: ZoneInfo,
             holidays: frozenset[date] = frozenset()) -> tuple[str | None, list[str]]:
    """Return the permit's grade and the reasons it was raised (empty when it was not)."""
    g = t.grading
    if g.by == "none":
        return None, []
    label = t.field(g.attribute).label
    value = attributes.get(g.attribute)
    if value in (None, ""):
        raise InvalidPermit(f"请填写{label}")
    reasons = []
    if g.by == "declared":
        if value not in g.levels:
            raise InvalidPermit(f"{label}“{value}”无效，可选：{'、'.join(reversed(g.levels))}")
        # Declaring no night work (夜间作业 = 否) avoids the raise; the start and resume gates
        # then refuse to let the work run at night.
        if ("night" in g.raise_on and attributes.get("night_work") != "否"
                and _overlaps_night(start, end, g.night, tz)):
            reasons.append(RAISE_LABELS["night"])
        if "holiday" in g.raise_on and _touches_holiday(start, end, t, tz, holidays):
            reasons.append(RAISE_LABELS["holiday"])
        wind = attributes.get("wind_force")
        if "wind" in g.raise_on and wind not in (None, "") and int(wind) >= g.wind_force:
            reasons.append(RAISE_LABELS["wind"].format(force=g.wind_force))
        levels, grade = g.levels, value
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidPermit(f"{label}“{value}”不是数字") from None
        if g.min is not None and number < g.min:
            raise InvalidPermit(f"{label} {number:g} 低于 {g.min:g}，不属于{t.name}")
        levels, grade = tuple(b.grade for b in g.bands), band_grade(g.bands, number)
        for key in g.raise_on:
            if key != "wind" and attributes.get(key):
                found = attributes[key]
                reasons.append(RAISE_LABELS["aggravating"].format(
                    value="、".join(found) if isinstance(found, list) else found))
    return (_raise(levels, grade) if reasons else grade), reasons
