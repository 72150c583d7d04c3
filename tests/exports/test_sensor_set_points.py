"""Each detector's own alarm set points from the detector sheet: read, kept, and a looser one refused."""
from __future__ import annotations

import pytest

from exports.sensor_import import SensorImportError, load_sensors
from exports.samples.build_sample_sensors import HEADERS, ROWS
from models import Sensor
from sensors import levels
from tests.exports.conftest import write_sheets
from tests.exports.test_sensor_import import row_of
from workflow.gas import STATUTORY
from workflow.gas_table import GASES

SET_HEADERS = HEADERS + ("一级报警值", "二级报警值")


def book(tmp_path, points: dict[str, tuple[str, str]]):
    rows = [tuple(r) + points.get(r[0], ("", "")) for r in ROWS]
    return write_sheets(tmp_path / "points.xlsx", {"检测仪": (SET_HEADERS, rows)})


def test_a_detector_keeps_its_own_tighter_set_points_and_the_others_the_table(plant, tmp_path):
    load_sensors(book(tmp_path, {"GD-0012": ("H2S=5 CO=15", "H2S=8")}))
    own = Sensor.get(code="GD-0012").set_points
    assert own == {"H2S": [5.0, 8.0], "CO": [15.0, 40.0]}
    assert Sensor.get(code="GD-0013").set_points is None
    # The detector's 6 mg/m³ of H2S is a first alarm for it, and nothing for a detector on the table.
    assert [(t.gas, t.level) for t in levels.trips({"H2S": 6.0}, own)] == [("H2S", levels.FIRST)]
    assert levels.trips({"H2S": 6.0}) == []
    assert [(t.gas, t.level) for t in levels.trips({"H2S": 8.0}, own)] == [("H2S", levels.SECOND)]


CASES = {
    "looser first": (("H2S=15", ""), "一级报警值", "硫化氢（H2S）一级报警值 15 mg/m³ 高于标准上限 10 mg/m³（GBZ 2.1-2019 MAC"),
    "looser second": (("", "EX=60"), "二级报警值", "可燃气体（EX）二级报警值 60 %LEL 高于标准上限 50 %LEL（GB/T 50493-2019"),
    "first over second": (("CO=18", "CO=10"), "一级报警值", "一氧化碳（CO）一级报警值 18 须低于二级报警值 10"),
    "oxygen": (("O2=18", ""), "一级报警值", "氧气报警值固定为 19.5/23.5 %vol"),
    "not measured": (("NH3=20", ""), "一级报警值", "NH3 不是本检测仪的测量气体"),
    "malformed": (("H2S:5", ""), "一级报警值", "“H2S:5”应写成“气体=数值”"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_set_point_looser_than_the_standard_is_refused_by_name(plant, tmp_path, case):
    cells, column, message = CASES[case]
    with pytest.raises(SensorImportError) as caught:
        load_sensors(book(tmp_path, {"GD-0012": cells}))
    first = caught.value.errors[0]
    assert (first.sheet, first.row, first.column) == ("检测仪", row_of("GD-0012"), column)
    assert message in first.message
    assert Sensor.select().count() == 0


def test_the_table_carries_every_gas_with_unit_and_source_and_sets_the_permit_limits():
    assert {"O2", "EX", "H2", "CH4", "H2S", "CO", "NH3", "CL2", "SO2", "NO2", "HCN", "C6H6"} <= set(GASES)
    assert all(g.unit and g.source and g.label for g in GASES.values())
    toxic = [g for g in GASES.values() if g.kind == "toxic"]
    # GB/T 50493-2019 §5.5.2: the first alarm at most 100 % OEL, the second at most 200 %.
    assert all(g.first <= g.oel and g.second <= 2 * g.oel for g in toxic)
    assert (STATUTORY.h2s, STATUTORY.co) == (GASES["H2S"].oel, GASES["CO"].oel) == (10.0, 20.0)
    assert levels.SET_POINTS["H2S"] == (10.0, 20.0) and (levels.O2_LOW, levels.O2_HIGH) == (19.5, 23.5)


def test_an_ammonia_detector_gets_the_table_s_set_points_or_tighter_ones_and_a_looser_one_is_refused(plant, tmp_path):
    rows = [("GD-0060", "液氨罐区固定式氨气探测器", "3#罐区", "固定", "NH3、CL2", 30, "U2", "是", "NH3=20", "")]
    load_sensors(write_sheets(tmp_path / "nh3.xlsx", {"检测仪": (SET_HEADERS, rows)}))
    sensor = Sensor.get(code="GD-0060")
    assert sensor.gases == ["NH3", "CL2"] and sensor.set_points == {"NH3": [20.0, 60.0]}
    assert [(t.gas, t.level) for t in levels.trips({"NH3": 25.0, "CL2": 1.0}, sensor.set_points)] == [
        ("NH3", levels.FIRST), ("CL2", levels.FIRST)]

    loose = [rows[0][:8] + ("CL2=1.5", "")]
    with pytest.raises(SensorImportError) as caught:
        load_sensors(write_sheets(tmp_path / "loose.xlsx", {"检测仪": (SET_HEADERS, loose)}))
    assert "氯气（CL2）一级报警值 1.5 mg/m³ 高于标准上限 1 mg/m³（GBZ 2.1-2019 MAC" in caught.value.errors[0].message
