"""Periods as admins type them, in chat and on the command line."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from exports.period import Period, PeriodError, between, month, parse


@pytest.mark.parametrize("text, first, last", [
    ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2026-11-01~2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
    ("2026-11-01 至 2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
    ("2026-09 2026-11", date(2026, 9, 1), date(2026, 11, 30)),
    ("2026-11-05", date(2026, 11, 5), date(2026, 11, 5)),
])
def test_periods_read_as_written(text, first, last):
    assert parse(text) == Period(first, last)


@pytest.mark.parametrize("text, message", [
    ("2026-13", "月份“2026-13”不对"),
    ("2026-00", "月份“2026-00”不对"),
    ("206-11", "日期“206-11”不对"),
    ("2026-02-30", "日期“2026-02-30”不对"),
    ("2026-12-01~2026-11-01", "开始日期 2026-12-01 晚于结束日期 2026-11-01"),
    ("2026-11 2026-12 2027-01", "期间应写成"),
    ("十一月", "日期“十一月”不对"),
])
def test_bad_periods_say_what_is_wrong(text, message):
    with pytest.raises(PeriodError) as caught:
        parse(text)
    assert message in str(caught.value)


def test_a_period_is_whole_plant_days_stored_as_utc_and_splits_into_months():
    period = between("2026-10-15", "2026-12")
    assert period.label == "2026-10-15 至 2026-12-31" and not period.is_month
    assert [p.label for p in period.months()] == ["2026-10-15 至 2026-10-31", "2026-11", "2026-12"]
    assert month("2026-11").bounds(ZoneInfo("Asia/Shanghai")) == (datetime(2026, 10, 31, 16, 0),
                                                                  datetime(2026, 11, 30, 16, 0))
