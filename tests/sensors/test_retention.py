"""The readings' storage policy: a permit's readings and an alarm's window kept whole, the rest rolled up."""
from __future__ import annotations

from datetime import timedelta

from openpyxl import load_workbook

import settings
from exports import records
from exports.build import build_ledger
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope, from_words
from models import Alarm, GasReading, ReadingRollup
from sensors import retention
from tests.conftest import MORNING
from workflow.walkthrough import run_to_close

BASE = MORNING + timedelta(days=2)        # well after the sample permit closed


def report_an_hour(site) -> None:
    """GD-0001, bound to nothing, reports every 20 s for an hour; at minute 30 it reads H2S 12 (一级)."""
    site.detector("GD-0001")
    for i in range(180):
        at = BASE + timedelta(seconds=20 * i)
        site.report("GD-0001", at, EX=float(i % 5), **({"H2S": 12.0} if i == 90 else {}))


def test_unattached_readings_are_rolled_up_per_minute_outside_the_alarm_window(site):
    report_an_hour(site)
    assert Alarm.get().reading_at == BASE + timedelta(minutes=30)

    done = retention.prune(BASE + timedelta(hours=3))

    kept = [r.taken_at for r in GasReading.select().where(GasReading.device == "GD-0001").order_by(GasReading.taken_at)]
    # 10 minutes either side of the alarm, both ends included, every 20 s.
    assert (kept[0], kept[-1], len(kept)) == (BASE + timedelta(minutes=20), BASE + timedelta(minutes=40), 61)
    assert done.as_dict() == {"examined": 180, "kept": 61, "rolled_up": 119, "minutes": 40}
    assert ReadingRollup.select().count() == 40
    assert sum(r.count for r in ReadingRollup.select()) == 119
    first = ReadingRollup.get(ReadingRollup.minute == BASE)
    # readings 0, 1, 2 of the minute: EX 0, 1, 2; last taken at :40
    assert (first.count, first.ex_min, first.ex_max, first.ex_last, first.last_at) == (
        3, 0.0, 2.0, 2.0, BASE + timedelta(seconds=40))
    assert (first.o2_min, first.o2_max, first.h2s_max) == (20.9, 20.9, 0.0)
    # The minute the window ends in lost only its two readings after the window.
    assert ReadingRollup.get(ReadingRollup.minute == BASE + timedelta(minutes=40)).count == 2
    assert not ReadingRollup.select().where((ReadingRollup.minute >= BASE + timedelta(minutes=20))
                                            & (ReadingRollup.minute < BASE + timedelta(minutes=40))).exists()


def test_a_second_prune_changes_nothing(site):
    report_an_hour(site)
    retention.prune(BASE + timedelta(hours=3))
    rollups = [(r.minute, r.count, r.ex_last) for r in ReadingRollup.select().order_by(ReadingRollup.minute)]
    again = retention.prune(BASE + timedelta(hours=4))
    assert (again.rolled_up, again.kept) == (0, 61)
    assert [(r.minute, r.count, r.ex_last) for r in ReadingRollup.select().order_by(ReadingRollup.minute)] == rollups


def test_readings_younger_than_the_raw_window_are_left_alone(site):
    report_an_hour(site)
    settings.configure({"READINGS_RAW_MINUTES": "120", "DATABASE_URL": settings.current().database_url})
    done = retention.prune(BASE + timedelta(hours=2, minutes=30))   # cutoff: minute 30
    settings.configure()
    assert done.examined == 90 and ReadingRollup.select().count() == 20   # minutes 0–19; 20–29 in the window


def test_a_past_permits_readings_are_all_kept_and_its_ledger_shows_them(plant, tmp_path):
    permit = run_to_close("confined_space", start=MORNING)
    before = [(r.taken_at, r.device, r.ex, r.passed) for r in
              GasReading.select().where(GasReading.permit == permit).order_by(GasReading.id)]
    assert len(before) >= 2 and permit.state == "closed"

    retention.prune(MORNING + timedelta(days=30))

    after = [(r.taken_at, r.device, r.ex, r.passed) for r in
             GasReading.select().where(GasReading.permit == permit).order_by(GasReading.id)]
    assert after == before
    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    sheet = load_workbook(built.path)[records.READINGS]
    numbers = [row[1] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert numbers.count(permit.no) == len(before)


def test_a_past_detectors_history_is_complete_in_the_ledger_kept_readings_and_rolled_up_minutes(site, tmp_path):
    from exports import rollups
    report_an_hour(site)
    retention.prune(BASE + timedelta(hours=3))
    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    book = load_workbook(built.path)
    kept = [r for r in book[records.READINGS].iter_rows(min_row=4, values_only=True) if r[5] == "GD-0001"]
    minutes = list(book[rollups.ROLLUPS].iter_rows(min_row=4, values_only=True))
    assert book[rollups.ROLLUPS]["A1"].value == "检测仪分钟汇总（2026-11）"
    assert [c.value for c in book[rollups.ROLLUPS][3]] == [c.header for c in rollups.COLUMNS]
    # Every one of the hour's 180 readings is in the workbook: kept whole, or counted in its minute.
    assert len(kept) + sum(m[3] for m in minutes) == 180
    assert built.rows[rollups.ROLLUPS] == len(minutes) == 40
    first = dict(zip([c.header for c in rollups.COLUMNS], minutes[0]))
    # Shown in plant time (UTC+8), as every time in the ledger.
    assert first["分钟"] == BASE + timedelta(hours=8) and first["检测仪编号"] == "GD-0001"
    assert first["区域"] == "常减压装置" and first["读数条数"] == 3
    assert (first["EX 最低"], first["EX 最高"], first["EX 末值"]) == (0.0, 2.0, 2.0)
    assert first["末次读数时间"] == BASE + timedelta(hours=8, seconds=40)
    # Filtered by permits, the minutes (which belong to none) are left out, and the sheet says so.
    filtered = build_ledger(from_words(read_month("2026-11"), ["动火"]), tmp_path / "hot.xlsx", Run.current())
    sheet = load_workbook(filtered.path)[rollups.ROLLUPS]
    assert filtered.rows[rollups.ROLLUPS] == 0 and "按作业票筛选时不含检测仪分钟汇总" in str(sheet["B4"].value)
