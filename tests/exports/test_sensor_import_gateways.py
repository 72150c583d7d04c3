"""The detector workbook's 网关 sheet and column: gateways registered with a secret shown once, detectors
linked to them, and a link to an unknown gateway refused with nothing written."""
from __future__ import annotations

import re

import pytest

from exports.samples.build_sample_sensors import HEADERS, ROWS
from exports.sensor_import import SensorImportError, format_report, load_sensors
from models import Gateway, Sensor
from sensors import registry
from tests.exports.conftest import write_sheets

SECRET = re.compile(r"[0-9a-f]{32}")
GATEWAY_HEADERS = ("编号", "名称", "启用")


def book(path, gateway_of: dict[str, str], gateways=(("GW-01", "一号控制器", "是"),)):
    rows = [list(r) + [gateway_of.get(r[0], "")] for r in ROWS]
    return write_sheets(path, {"检测仪": (HEADERS + ("网关",), rows), "网关": (GATEWAY_HEADERS, list(gateways))})


def test_the_gateway_sheet_registers_gateways_and_links_detectors(plant, tmp_path):
    report = load_sensors(book(tmp_path / "gw.xlsx", {"GD-0011": "GW-01", "GD-0012": "gw-01"}))

    gateway = Gateway.get(Gateway.code == "GW-01")
    assert [(g.code, g.name) for g in report.gateways] == [("GW-01", "一号控制器")]
    assert report.gateways[0].secret == gateway.secret and SECRET.fullmatch(gateway.secret)
    assert f"GW-01  secret={gateway.secret}" in format_report(report)
    assert {s.code for s in Sensor.select().where(Sensor.gateway == gateway)} == {"GD-0011", "GD-0012"}

    # Imported again: the gateway keeps its secret (the controller signs with it), links follow the sheet.
    again = load_sensors(book(tmp_path / "gw2.xlsx", {"GD-0011": "GW-01"}))
    assert (again.gateways, again.gateways_updated) == ((), 1)
    assert Gateway.get(Gateway.code == "GW-01").secret == gateway.secret
    assert [s.code for s in Sensor.select().where(Sensor.gateway == gateway)] == ["GD-0011"]


def test_a_link_to_an_unknown_gateway_refuses_the_workbook(plant, tmp_path):
    with pytest.raises(SensorImportError) as caught:
        load_sensors(book(tmp_path / "bad.xlsx", {"GD-0011": "GW-09"}))
    row = [r[0] for r in ROWS].index("GD-0011") + 2
    assert [str(e) for e in caught.value.errors] == [
        f"检测仪 第{row}行 网关: 未知网关“GW-09”（系统和“网关”表中都没有这个编号）"]
    assert Sensor.select().count() == 0 and Gateway.select().count() == 0


def test_register_gateway_links_the_detectors_and_refuses_unknown_ones(plant, tmp_path):
    load_sensors(book(tmp_path / "plain.xlsx", {}, gateways=()))
    secret = registry.register_gateway("gw-07", "七号控制器", ["GD-0011", "GD-0012"])
    assert Gateway.get(Gateway.code == "GW-07").secret == secret
    with pytest.raises(LookupError, match="GD-9999"):
        registry.register_gateway("GW-08", "八号控制器", ["GD-0011", "GD-9999"])
    assert not Gateway.select().where(Gateway.code == "GW-08").exists()
    assert Sensor.get(Sensor.code == "GD-0011").gateway.code == "GW-07"
