"""Fuzz the Excel imports: the sample org (with its 证书 sheet) and detector workbooks, cells drawn at random."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from hypothesis import given, strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from exports.workbook import WorkbookError

from tests.conftest import SAMPLE_ORG
from tests.fuzz.conftest import stored
from tests.fuzz.strategies import tricky

SAMPLE_SENSORS = Path(__file__).resolve().parents[2] / "exports" / "samples" / "示例检测仪.xlsx"
CELL = st.one_of(tricky, st.text(max_size=30), st.none(), st.integers(-10**15, 10**15),
                 st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                 st.dates(min_value=date(1900, 1, 2)), st.datetimes(min_value=datetime(1900, 1, 2)),
                 st.sampled_from(["=1/0", "=A1", "二级", "安全员", "zhuyan", "2099-12-31", "9999-12-31"]))
EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 30), st.integers(1, 14), CELL), min_size=1, max_size=12)


def mutated(sample: Path, edits, out: Path) -> Path:
    """Copy the sample workbook with the given (sheet, row, column, value) edits; row 1 is the header."""
    book = load_workbook(sample)
    for sheet, row, column, value in edits:
        if isinstance(value, str):   # what no .xlsx can hold, whoever wrote it
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        book.worksheets[sheet % len(book.worksheets)].cell(row=row, column=column, value=value)
    book.save(out)
    return out


def imported(load, path: Path) -> None:
    before = stored()
    try:
        load(path)
    except WorkbookError as exc:
        assert str(exc)   # the refusal names the cells
        assert stored() == before   # and nothing of the workbook was written


@given(edits=EDITS)
def test_any_org_workbook_is_imported_or_refused_whole(fuzz_app, tried, tmp_path, edits):
    from exports.org_import import load_org
    tried()
    imported(load_org, mutated(SAMPLE_ORG, edits, tmp_path / "org.xlsx"))


@given(edits=EDITS)
def test_any_detector_workbook_is_imported_or_refused_whole(fuzz_app, tried, tmp_path, edits):
    from exports.sensor_import import load_sensors
    tried()
    imported(load_sensors, mutated(SAMPLE_SENSORS, edits, tmp_path / "sensors.xlsx"))


@given(data=st.binary(max_size=400))
def test_a_file_that_is_not_a_workbook_is_refused(fuzz_app, tried, tmp_path, data):
    from exports.org_import import load_org
    from exports.sensor_import import load_sensors
    tried()
    path = tmp_path / "junk.xlsx"
    path.write_bytes(data)
    for load in (load_org, load_sensors):
        imported(load, path)
