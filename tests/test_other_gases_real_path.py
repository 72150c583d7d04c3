"""Gases beyond O2/EX/H2S/CO end to end on both platforms: an ammonia detector's signed post → webhook →
its alarm card on the phones and the gas on the board; a tester's chat reading with ammonia over its
GBZ 2.1 limit refused as a gas analysis, an unknown gas code refused in Chinese; a template's own tighter
limit for ammonia holding both the tester's reading and a bound detector's."""
from __future__ import annotations

import pytest
import requests

from cards import links
from handlers.demo.scripted import GOOD_AIR, Detector, take_through
from models import Alarm, GasReading, Sensor
from models.permit import Permit
from workflow import machine
from workflow import template as templates
from workflow.template import TEMPLATE_DIR, load_file

from tests.test_site_real_path import newest_notice, to_step
from tests.test_wecom_real_path import alarm_cards, applied, last_text, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
AIR = {"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0}


def five_gas(phone) -> Detector:
    """A portable detector that reads ammonia besides the usual four."""
    sensor = Sensor.create(code="GD-0051", name="便携式五合一检测仪（含氨）", area="常减压装置", kind="便携",
                           gases=["O2", "EX", "H2S", "CO", "NH3"], interval_seconds=10, secret="s3cret-GD-0051",
                           unit=Permit.select().first().unit)
    return Detector(phone.app, sensor.code, sensor.secret, gases=list(sensor.gases))


def ammonia_at_work(phone, drain, permit_no: str, value: float) -> tuple[str, Detector, Alarm]:
    """Start the work with the five-gas detector bound, have it read ammonia at value; return the permit's
    number, the detector and the alarm its post raised."""
    device = five_gas(phone)
    no = take_through(phone, permit_no, drain, until="in_progress", detector=device).no
    answer = device.post({**AIR, "NH3": value})
    assert answer.status_code == 200, answer.text
    drain()
    return no, device, Alarm.get_by_id(answer.json()["alarms"][0])


@BOTH
def test_an_ammonia_detector_alarms_through_the_webhook_to_the_cards_and_the_board(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    # NH3 35 mg/m³: past the table's first alarm (30) and the permit's limit (GBZ 2.1 PC-STEL 30).
    no, device, alarm = ammonia_at_work(phone, drain, permit.no, 35.0)
    assert (alarm.gas, alarm.value, alarm.level) == ("NH3", 35.0, "超限")
    assert "氨 35 mg/m³，达到一级报警值 30" in alarm.text and "氨 35.0 mg/m³ 不合格，限值 < 30 mg/m³" in alarm.text
    assert Permit.get(Permit.no == no).state == "suspended"
    cards = alarm_cards(phone, alarm.id)
    applicant = phone.account(Permit.get(Permit.no == no).applicant)
    assert applicant in cards and "氨 35 mg/m³" in str(cards[applicant][0])
    stored = GasReading.select().where(GasReading.device == device.code).order_by(GasReading.id.desc()).first()
    assert stored.others == {"NH3": 35.0} and stored.h2s == 0

    board = requests.get(links.url(Permit.get(Permit.no == no)), timeout=10)
    assert board.status_code == 200
    assert "氨<small>mg/m³</small>" in board.text and "氨 &lt; 30 mg/m³" in board.text


@BOTH
def test_a_chat_reading_with_ammonia_over_its_limit_is_refused_as_the_gas_analysis(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    step = to_step(phone, drain, permit.no, "gas")
    tester = phone.account(machine.assignees(step)[0])

    phone.text(tester, f"气体检测 {permit.no} {GOOD_AIR} NH3=35")
    drain()
    assert "不合格" in last_text(phone, tester) and "氨 35.0 mg/m³ 不合格，限值 < 30 mg/m³" in last_text(phone, tester)
    assert machine.active_step(Permit.get_by_id(permit.id)).key == "gas"
    failed = GasReading.get(GasReading.permit == permit)
    assert (failed.passed, failed.others) == (False, {"NH3": 35.0})

    phone.text(tester, f"气体检测 {permit.no} {GOOD_AIR} HCHO=1")
    drain()
    assert "未办理：未知的气体代号「HCHO」" in newest_notice(phone, tester)
    assert GasReading.select().where(GasReading.permit == permit).count() == 1

    phone.text(tester, f"气体检测 {permit.no} {GOOD_AIR} NH3=5")
    drain()
    assert "合格" in last_text(phone, tester) and "氨 5.0 mg/m³ 合格" in last_text(phone, tester)
    assert machine.active_step(Permit.get_by_id(permit.id)).key != "gas"


def tighter_ammonia(tmp_path, monkeypatch, limit: float) -> None:
    """Load hot work with `limits = { nh3 = limit }` through the template loader, as the plant's own copy."""
    text = (TEMPLATE_DIR / "hot_work.toml").read_text(encoding="utf-8")
    assert text.count('continuous = ["特级"]') == 1
    path = tmp_path / "hot_work.toml"
    path.write_text(text.replace('continuous = ["特级"]', f'continuous = ["特级"]\nlimits = {{ nh3 = {limit:g} }}'),
                    encoding="utf-8")
    monkeypatch.setitem(templates.registry(), "hot_work", load_file(path))


@BOTH
def test_a_template_s_tighter_ammonia_limit_holds_the_chat_reading_and_the_bound_detector(world, tmp_path,
                                                                                         monkeypatch):
    phone, drain, _ = world
    tighter_ammonia(tmp_path, monkeypatch, 20)
    permit, _ = applied(phone, drain)
    step = to_step(phone, drain, permit.no, "gas")
    tester = phone.account(machine.assignees(step)[0])

    # 25 mg/m³ is under GBZ 2.1's 30, so only the template's own 20 refuses it.
    phone.text(tester, f"气体检测 {permit.no} {GOOD_AIR} NH3=25")
    drain()
    assert "氨 25.0 mg/m³ 不合格，限值 < 20 mg/m³" in last_text(phone, tester)
    assert machine.active_step(Permit.get_by_id(permit.id)).key == "gas"
    phone.text(tester, f"气体检测 {permit.no} {GOOD_AIR} NH3=15")
    drain()
    assert "氨 15.0 mg/m³ 合格" in last_text(phone, tester)
    assert machine.active_step(Permit.get_by_id(permit.id)).key != "gas"

    # Below the detector's first set point (30), but over the permit's own limit: an 超限 alarm stops the work.
    no, device, alarm = ammonia_at_work(phone, drain, permit.no, 25.0)
    assert alarm.level == "超限" and "一级报警值" not in alarm.text, alarm.text
    assert "氨 25.0 mg/m³ 不合格，限值 < 20 mg/m³" in alarm.text, alarm.text
    assert Permit.get(Permit.no == no).state == "suspended"
    stored = GasReading.select().where(GasReading.device == device.code).order_by(GasReading.id.desc()).first()
    assert (stored.passed, stored.others) == (False, {"NH3": 25.0})
    assert "限值 < 20 mg/m³" in str(stored.verdict)
