"""Statements compiled once and then only bound store and find what peewee's own queries would."""
from __future__ import annotations

from datetime import datetime

from models import GasReading, database
from models.db import compiled, insert_rows
from sensors.intake import ROW_FIELDS

AT = datetime(2026, 11, 24, 8, 1, 2)


def row(device: str, **values) -> tuple:
    fields = dict(permit=None, device=device, tester=None, taken_at=AT, recorded_at=AT, o2=20.9, ex=None,
                  h2s=None, co=None, others=None, location_note="区域", passed=None, verdict={}) | values
    return tuple(fields[f.name] for f in ROW_FIELDS)


def test_insert_rows_stores_nulls_json_and_times_as_insert_many_does(db):
    insert_rows(GasReading, ROW_FIELDS, [row("GD-0001"), row("GD-0002", h2s=12.5, passed=False,
                                                              verdict={"text": "超标"}, others={"NH3": [3.0, 3.5, 3.5]})])
    GasReading.insert_many([dict(zip([f.name for f in ROW_FIELDS], row("GD-0003")))]).execute()
    got = {r.device: r for r in GasReading.select()}
    assert got["GD-0001"].taken_at == got["GD-0003"].taken_at == AT
    assert (got["GD-0001"].ex, got["GD-0001"].passed, got["GD-0001"].verdict) == (None, None, {})
    assert (got["GD-0002"].h2s, got["GD-0002"].passed, got["GD-0002"].verdict) == (12.5, False, {"text": "超标"})
    assert (got["GD-0001"].others, got["GD-0002"].others) == (None, {"NH3": [3.0, 3.5, 3.5]})


def test_a_compiled_statement_is_built_once_per_shape_and_bound_each_time(db):
    built = []

    def build():
        built.append(1)
        return GasReading.select(GasReading.device).where(GasReading.device.in_(["x", "y"]))

    insert_rows(GasReading, ROW_FIELDS, [row("GD-0001"), row("GD-0002"), row("GD-0003")])
    for wanted in (["GD-0001", "GD-0002"], ["GD-0003", "GD-0009"]):
        sql = compiled(("test shape", 2), build)
        found = sorted(d for (d,) in database.execute_sql(sql, wanted).fetchall())
        assert found == sorted(set(wanted) & {"GD-0001", "GD-0002", "GD-0003"})
    assert len(built) == 1
