"""Helpers for the workbook imports' tests: write a workbook, and check that one is refused whole."""
from __future__ import annotations

import pytest
from openpyxl import Workbook, load_workbook

from exports.workbook import RowError, WorkbookError


def write_sheets(path, sheets: dict):
    """Write a workbook of sheets (title -> (headers, rows)), in that order, and return its path."""
    book = Workbook()
    book.remove(book.active)
    for title, (headers, rows) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(list(headers))
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def assert_refused(load, path, error: type[WorkbookError], *, where, message: str, snapshot
                   ) -> tuple[RowError, ...]:
    """Assert that load(path) raises error, naming (sheet, row, column) and message first, and writes nothing."""
    before = snapshot()

    with pytest.raises(error) as caught:
        load(path)

    first = caught.value.errors[0]
    assert (first.sheet, first.row, first.column) == where
    assert message in first.message
    assert snapshot() == before
    return caught.value.errors


def assert_committed_sample_is_fresh(build, committed_path, tmp_path):
    """Assert that the committed sample holds what its builder writes now; return the committed workbook."""
    fresh = load_workbook(build(tmp_path / "sample.xlsx"))
    committed = load_workbook(committed_path)
    assert committed.sheetnames == fresh.sheetnames
    for title in fresh.sheetnames:
        assert list(committed[title].values) == list(fresh[title].values)
    return committed


@pytest.fixture
def month(plant):
    """Return the sample plant's November 2026: three permits closed, one rejected, one acknowledged alarm."""
    from datetime import timedelta

    from models import find_person, transaction
    from sensors import alarms
    from tests.conftest import MORNING
    from workflow import engine
    from workflow.walkthrough import draft, run_to_close
    closed = [run_to_close(code, start=MORNING) for code in ("hot_work", "height", "confined_space")]
    refused = draft("lifting", start=MORNING + timedelta(days=1))
    engine.submit(refused.no, by=refused.applicant, now=MORNING)
    engine.sign(refused.no, "plan", by=find_person("zhengji"), now=MORNING + timedelta(minutes=5))
    engine.reject(refused.no, "assess", by=find_person("wangping"), reason="风险辨识不全",
                  now=MORNING + timedelta(minutes=9))
    reading_at = MORNING + timedelta(hours=3)
    with transaction():
        alarm = alarms.raise_alarm(sensor=None, device=None, level="一级", text="人工检测：可燃气体 30 %LEL",
                                   permits=[closed[0]], reading_at=reading_at, now=reading_at, gas="EX",
                                   value=30.0)
    alarms.acknowledge(alarm.id, by=closed[0].applicant, channel="wecom",
                       now=reading_at + timedelta(seconds=75))
    return closed + [refused]
