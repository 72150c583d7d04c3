"""检测仪分钟汇总: the per-minute rollups that stand in for a detector's pruned readings.

Readings outside any permit and any alarm window are folded into one row per detector and minute
after the raw window (sensors.retention). 气体检测记录 lists the readings still kept; this sheet
lists the minutes folded away, so a detector's history over the period is complete across both.
"""
from __future__ import annotations

import json

from models import ReadingRollup, Sensor
from workflow import gas

from .ledger import TIME
from .records import _after
from .run import PAGE, Run, fetch
from .scope import Scope
from .sheet import Column, Sheet

ROLLUPS = "检测仪分钟汇总"
COLUMNS = (
    Column("分钟", TIME), Column("检测仪编号", 11), Column("区域", 16), Column("读数条数", 9),
    Column("O2 最低", 9), Column("O2 最高", 9), Column("O2 末值", 9),
    Column("EX 最低", 9), Column("EX 最高", 9), Column("EX 末值", 9),
    Column("H2S 最低", 9), Column("H2S 最高", 9), Column("H2S 末值", 9),
    Column("CO 最低", 9), Column("CO 最高", 9), Column("CO 末值", 9), Column("末次读数时间", TIME),
    Column("其他气体（最低/最高/末值）", 30),
)
GASES = ("o2", "ex", "h2s", "co")


def _others(others: str | None) -> str | None:
    """The other gases' minute as "氨 1/3/2 mg/m³"; the raw query hands over the JSON text."""
    found = json.loads(others) if others else None
    if not found:
        return None
    shown = lambda v: "—" if v is None else f"{v:g}"   # noqa: E731
    return "；".join(f"{gas.GAS_LABELS.get(code, code)} {'/'.join(map(shown, found[code]))} {gas.UNITS.get(code, '')}"
                    .rstrip() for code in sorted(found, key=lambda c: gas.GASES.index(c) if c in gas.GASES else 99))


def _rollups(scope: Scope, run: Run):
    start, end = scope.period.bounds(run.tz)
    return ReadingRollup.select().where((ReadingRollup.minute >= start) & (ReadingRollup.minute < end))


def count(scope: Scope, run: Run) -> int:
    # Rolled-up minutes belong to no permit: a filter by type, unit or state leaves them all out.
    return 0 if scope.filtered else _rollups(scope, run).count()


def write(book, scope: Scope, run: Run) -> int:
    """Write the period's rolled-up minutes, oldest first; none when the scope filters permits."""
    note = ("按作业票筛选时不含检测仪分钟汇总（汇总不属于任何作业票）" if scope.filtered
            else "本期间没有汇总的检测仪读数（读数均完整保留在“气体检测记录”中）")
    sheet = Sheet(book, ROLLUPS, COLUMNS, title=f"{ROLLUPS}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), empty_note=note)
    if scope.filtered:
        return sheet.finish()
    areas = dict(Sensor.select(Sensor.code, Sensor.area).tuples())
    fields = [ReadingRollup.id, ReadingRollup.minute, ReadingRollup.device, ReadingRollup.count]
    fields += [getattr(ReadingRollup, f"{gas}_{part}") for gas in GASES for part in ("min", "max", "last")]
    fields += [ReadingRollup.last_at, ReadingRollup.others]
    at, last = run.clock, None
    while True:
        page = fetch(_rollups(scope, run).select(*fields)
                     .where(_after(ReadingRollup.minute, ReadingRollup.id, last))
                     .order_by(ReadingRollup.minute, ReadingRollup.id).limit(PAGE), datetimes=(1, 16))
        if not page:
            return sheet.finish()
        for row in page:
            _, minute, device, n, *values, last_at, others = row
            sheet.append([at(minute), device, areas.get(device), n, *values, at(last_at), _others(others)])
        run.progress.advance(len(page))
        last = (page[-1][1], page[-1][0])
