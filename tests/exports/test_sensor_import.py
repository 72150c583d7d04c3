"""The detector workbook import: the sample detectors, re-imports that keep secrets, and every bad row."""
from __future__ import annotations

import re

import pytest

from exports.sensor_import import (NewSensor, SensorImportError, SensorImportReport, UnknownSensor,
                                   format_report, load_sensors, rekey_sensor)
from exports.samples.build_sample_sensors import HEADERS, OUT, ROWS, build
from models import Department, Sensor
from tests.exports.conftest import assert_committed_sample_is_fresh, assert_refused, write_sheets

FOUR_GASES = ["O2", "EX", "H2S", "CO"]
SECRET = re.compile(r"[0-9a-f]{32}")


def write_book(path, rows=ROWS, *, headers=HEADERS, sheet="检测仪"):
    """Write a detector workbook with the given rows (the sample's by default) and return its path."""
    return write_sheets(path, {sheet: (headers, rows)})


def sensor_row(code, **changes):
    """Return the sample row of detector code, with columns replaced by header."""
    row = list(next(r for r in ROWS if r[0] == code))
    for header, value in changes.items():
        row[HEADERS.index(header.replace("_", "/"))] = value
    return row


def replace(code, **changes):
    return [sensor_row(code, **changes) if r[0] == code else r for r in ROWS]


def row_of(code):
    """Return the workbook row number of a sample detector."""
    return [r[0] for r in ROWS].index(code) + 2


NEW_ROW = len(ROWS) + 2


def snapshot():
    """Return everything the import may touch, to compare before and after."""
    return [(s.id, s.code, s.name, s.area, s.kind, s.gases, s.interval_seconds, s.unit_id, s.secret, s.enabled)
            for s in Sensor.select().order_by(Sensor.id)]


def test_sample_loads(plant):
    report = load_sensors(OUT)

    assert (report.created, report.updated) == (6, 0)
    assert [s.code for s in report.new] == [r[0] for r in ROWS]
    assert {s.code: s.secret for s in report.new} == {s.code: s.secret for s in Sensor.select()}
    assert all(SECRET.fullmatch(s.secret) for s in report.new)
    assert len({s.secret for s in report.new}) == 6
    gd12 = Sensor.get(code="GD-0012")
    assert (gd12.kind, gd12.gases, gd12.interval_seconds, gd12.unit.code, gd12.enabled, gd12.area) == (
        "便携", FOUR_GASES, 10, "U1", True, "常减压装置")
    assert Sensor.get(code="GD-0001").gases == ["EX", "H2S"]
    assert Sensor.get(code="GD-0013").enabled is False
    assert [s.code for s in Sensor.select().where(Sensor.kind == "固定")] == ["GD-0001", "GD-0002", "GD-0003"]


def test_report_shows_each_new_secret_once(plant):
    report = load_sensors(OUT)
    lines = format_report(report).splitlines()

    assert lines[0] == "检测仪：新增 6，更新 0"
    assert "仅此一次显示" in lines[1]
    assert lines[2:] == [f"{s.code}  secret={s.secret}" for s in report.new]
    assert "secret" not in repr(report)  # kept out of logs
    assert format_report(load_sensors(OUT)) == "检测仪：新增 0，更新 6"


def test_committed_sample_matches_its_builder(tmp_path):
    committed = assert_committed_sample_is_fresh(build, OUT, tmp_path)
    assert committed["检测仪"].freeze_panes == "A2"


def test_reimport_updates_in_place_and_keeps_secrets(plant, tmp_path):
    load_sensors(OUT)
    before = {s.code: s for s in Sensor.select()}
    rows = [r for r in replace("GD-0012", 名称="四合一 12 号", 上报间隔秒=5, 区域_位置="3#罐区", 所属单位="U2")
            if r[0] != "GD-0001"] + [("GD-0099", "新探测器", "11#罐区", "固定", "EX", 60, "", "")]

    report = load_sensors(write_book(tmp_path / "v2.xlsx", rows))

    assert (report.created, report.updated) == (1, 5)
    assert [s.code for s in report.new] == ["GD-0099"]
    gd12 = Sensor.get(code="GD-0012")
    assert (gd12.id, gd12.secret) == (before["GD-0012"].id, before["GD-0012"].secret)
    assert (gd12.name, gd12.interval_seconds, gd12.area, gd12.unit.code) == ("四合一 12 号", 5, "3#罐区", "U2")
    gd01 = Sensor.get(code="GD-0001")  # missing from the file: left as it was
    assert (gd01.name, gd01.secret, gd01.enabled) == (before["GD-0001"].name, before["GD-0001"].secret, True)
    gd99 = Sensor.get(code="GD-0099")
    assert (gd99.unit, gd99.enabled, gd99.secret) == (None, True, report.new[0].secret)
    assert Sensor.select().count() == 7


def test_cell_spellings(plant, tmp_path):
    rows = replace("GD-0012", 测量气体="h2s co/O2，ex", 所属单位="常减压车间", 启用=True)
    rows = [sensor_row("GD-0011", 测量气体="Ｏ２ 、H₂S", 上报间隔秒=10.0) if r[0] == "GD-0011" else r
            for r in rows]

    load_sensors(write_book(tmp_path / "spellings.xlsx", rows))

    gd12 = Sensor.get(code="GD-0012")
    assert (gd12.gases, gd12.unit.code, gd12.enabled) == (FOUR_GASES, "U1", True)
    gd11 = Sensor.get(code="GD-0011")
    assert (gd11.gases, gd11.interval_seconds) == (["O2", "H2S"], 10)


def test_optional_columns(plant, tmp_path):
    load_sensors(OUT)
    before = snapshot()
    headers = [h for h in HEADERS if h not in ("所属单位", "启用")]
    rows = [r[:len(headers)] for r in ROWS] + [("GD-0099", "新探测器", "3#罐区", "固定", "EX", 60)]

    load_sensors(write_book(tmp_path / "short.xlsx", rows, headers=headers))

    assert snapshot()[:6] == before  # units and 启用 stay as they were
    gd99 = Sensor.get(code="GD-0099")
    assert (gd99.unit, gd99.enabled) == (None, True)

    load_sensors(write_book(tmp_path / "blank.xlsx", replace("GD-0013", 所属单位="", 启用="")))

    gd13 = Sensor.get(code="GD-0013")
    assert (gd13.unit, gd13.enabled) == (None, True)


def test_unit_name_shared_by_two_departments(plant, tmp_path):
    Department.create(code="U9", name="储运车间", kind="基层单位")

    with pytest.raises(SensorImportError) as caught:
        load_sensors(write_book(tmp_path / "bad.xlsx", replace("GD-0011", 所属单位="储运车间")))

    assert [str(e) for e in caught.value.errors] == [
        f"检测仪 第{row_of('GD-0011')}行 所属单位: 有 2 个部门名为“储运车间”（U2、U9），请填部门编码"]


BAD_BOOKS = {
    "missing sheet": (dict(sheet="传感器"), (None, None), "缺少工作表“检测仪”（现有：传感器）"),
    "missing header": (dict(headers=HEADERS[:5] + ("间隔",) + HEADERS[6:]), (1, "上报间隔秒"),
                       "缺少表头“上报间隔秒”"),
    "no rows": (dict(rows=()), (None, None), "没有任何检测仪"),
    "duplicate code": (dict(rows=ROWS + (sensor_row("GD-0012", 名称="另一台"),)), (NEW_ROW, "编号"),
                       f"编号“GD-0012”与第{row_of('GD-0012')}行重复"),
    "unknown gas": (dict(rows=replace("GD-0012", 测量气体="O2、EX、HCHO")), (row_of("GD-0012"), "测量气体"),
                    "未知气体“HCHO”，可选：O2、EX、H2S、CO、H2、CH4、NH3、CL2、SO2、NO2、HCN、C6H6"),
    "only separators": (dict(rows=replace("GD-0012", 测量气体="、 /")), (row_of("GD-0012"), "测量气体"), "不能为空"),
    "bad type": (dict(rows=replace("GD-0012", 类型="手持")), (row_of("GD-0012"), "类型"),
                 "未知类型“手持”，可选：便携、固定"),
    "zero interval": (dict(rows=replace("GD-0012", 上报间隔秒=0)), (row_of("GD-0012"), "上报间隔秒"),
                      "“0”不是 1 到 3600 之间的整数"),
    "long interval": (dict(rows=replace("GD-0012", 上报间隔秒=3601)), (row_of("GD-0012"), "上报间隔秒"),
                      "“3601”不是 1 到 3600 之间的整数"),
    "fractional interval": (dict(rows=replace("GD-0012", 上报间隔秒=10.5)), (row_of("GD-0012"), "上报间隔秒"),
                            "“10.5”不是 1 到 3600 之间的整数"),
    "text interval": (dict(rows=replace("GD-0012", 上报间隔秒="十秒")), (row_of("GD-0012"), "上报间隔秒"),
                      "“十秒”不是 1 到 3600 之间的整数"),
    "unknown unit": (dict(rows=replace("GD-0012", 所属单位="U7")), (row_of("GD-0012"), "所属单位"),
                     "未知单位“U7”"),
    "bad enabled": (dict(rows=replace("GD-0012", 启用="停用")), (row_of("GD-0012"), "启用"), "应填“是”或“否”"),
    # A fixed detector watches a node of the area tree: 1#罐 is none (and never "the start of 1#罐区").
    "fixed detector off the tree": (dict(rows=replace("GD-0001", 区域_位置="1#罐")), (row_of("GD-0001"), "区域/位置"),
                                    "“1#罐”不是区域表中的区域，最接近的是：1#罐区"),
    "too long": (dict(rows=replace("GD-0012", 编号="GD-" + "0" * 30)), (row_of("GD-0012"), "编号"), "内容过长"),
    **{f"missing {header}": (dict(rows=replace("GD-0012", **{header.replace("/", "_"): None})),
                             (row_of("GD-0012"), header), "不能为空")
       for header in HEADERS[:6]},
}


@pytest.mark.parametrize("case", BAD_BOOKS, ids=list(BAD_BOOKS))
def test_bad_book_names_the_cell_and_changes_nothing(plant, tmp_path, case):
    load_sensors(OUT)
    changes, where, message = BAD_BOOKS[case]
    path = write_book(tmp_path / "bad.xlsx", **changes)

    assert_refused(load_sensors, path, SensorImportError, where=("检测仪", *where), message=message,
                   snapshot=snapshot)


def test_bad_book_registers_nothing(plant, tmp_path):
    rows = ROWS + (("GD-0099", "新探测器", "3#罐区", "固定", "HCHO", 60, "", ""),)

    with pytest.raises(SensorImportError):
        load_sensors(write_book(tmp_path / "bad.xlsx", rows))

    assert Sensor.select().count() == 0


def test_every_error_is_reported_together(plant, tmp_path):
    rows = replace("GD-0001", 类型="手持", 测量气体="O2、HCHO", 上报间隔秒=0, 所属单位="U7", 启用="停用")
    rows = [sensor_row("GD-0013", 名称="") if r[0] == "GD-0013" else r for r in rows]

    with pytest.raises(SensorImportError) as caught:
        load_sensors(write_book(tmp_path / "bad.xlsx", rows))

    assert [(e.row, e.column) for e in caught.value.errors] == [
        (2, "类型"), (2, "测量气体"), (2, "上报间隔秒"), (2, "所属单位"), (2, "启用"), (row_of("GD-0013"), "名称")]
    assert str(caught.value).startswith("检测仪表有 6 处错误，未导入任何内容：\n检测仪 第2行 类型: 未知类型“手持”")


def test_not_a_workbook(db, tmp_path):
    path = tmp_path / "sensors.xlsx"
    path.write_text("编号,名称\n", encoding="utf-8")

    assert_refused(load_sensors, path, SensorImportError, where=("工作簿", None, None),
                   message="无法读取“sensors.xlsx”：不是有效的 .xlsx 文件", snapshot=snapshot)


def test_rekey_gives_a_new_secret_and_keeps_the_rest(plant):
    load_sensors(OUT)
    before = snapshot()
    old = Sensor.get(code="GD-0012").secret

    secret = rekey_sensor("GD-0012")

    assert SECRET.fullmatch(secret) and secret != old
    assert Sensor.get(code="GD-0012").secret == secret
    assert [row[:8] for row in snapshot()] == [row[:8] for row in before]
    assert [row[8] for row in snapshot() if row[1] != "GD-0012"] == [row[8] for row in before if row[1] != "GD-0012"]


def test_rekey_unknown_detector(db):
    with pytest.raises(UnknownSensor) as caught:
        rekey_sensor("GD-9999")

    assert str(caught.value) == "没有编号为 GD-9999 的检测仪"


def test_report_counts_new_detectors():
    report = SensorImportReport(2, (NewSensor("GD-0099", "新探测器", "ab" * 16),))

    assert (report.created, report.updated) == (1, 2)
