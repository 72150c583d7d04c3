"""The scripted gas story: a gas-detection controller with 100 detectors, one alarm, and the rules it keeps.

Every step goes through the real doors: the admin's detector workbook, the controller's signed batches
over HTTP, the alarm card on the safety officer's phone, and the scheduler's retention job. A step that
does not happen raises StoryFailed, so the demo exits non-zero.
"""
from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import requests
from openpyxl import Workbook

from models import Alarm, GasReading, Person, ReadingRollup, utcnow

from .demo import Demo, phone_for, wait_delivered

GATEWAY, DETECTORS, UNIT, AREA = "GW-01", 100, "U2", "3#罐区"
CODES = tuple(f"GD-{1001 + i}" for i in range(DETECTORS))
LEAK = "GD-1042"
CLEAN = {"EX": 0.0, "H2S": 0.0}


class StoryFailed(RuntimeError):
    """A step of a scripted story did not happen as it should."""


def expect(condition: bool, what: str) -> None:
    """Stop the story with what did not happen."""
    if not condition:
        raise StoryFailed(what)


class Controller:
    """A gas-detection controller posting its detectors' readings in one signed batch, as the device would."""

    def __init__(self, app_url: str, code: str, secret: str, devices: tuple[str, ...]):
        self.url, self.code, self.secret, self.devices = f"{app_url}/sensors/gateway", code, secret, devices
        self.last = 0

    def post(self, odd: dict[str, dict] | None = None, *, devices: tuple[str, ...] | None = None,
             secret: str | None = None) -> requests.Response:
        """Post one reading of every detector (clean air, or odd[device]) stamped with a new second."""
        from sensors.intake import sign
        while int(time.time()) <= self.last:   # a detector reports at most once a second
            time.sleep(0.05)
        self.last = int(time.time())
        ts = datetime.fromtimestamp(self.last, timezone.utc).isoformat()
        body = json.dumps([{"device": d, "ts": ts, "values": {**CLEAN, **(odd or {}).get(d, {})}}
                           for d in devices or self.devices]).encode()
        stamp = str(self.last)
        return requests.post(self.url, data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Gateway": self.code, "X-Timestamp": stamp,
            "X-Signature": sign(secret or self.secret, stamp, body)})


def _workbook(folder: Path) -> Path:
    """Write the admin's detector workbook: one controller and its 100 fixed detectors of the tank farm."""
    from exports.sensor_import import GATEWAY_COLUMNS, SENSOR_COLUMNS, SENSORS
    book = Workbook()
    sheet = book.active
    sheet.title = SENSORS
    sheet.append([*SENSOR_COLUMNS, "网关"])
    for code in CODES:
        sheet.append([code, f"{AREA}固定式探测器 {code}", AREA, "固定", "EX、H2S", 1, UNIT, "是", GATEWAY])
    gateways = book.create_sheet("网关")
    gateways.append(list(GATEWAY_COLUMNS))
    gateways.append([GATEWAY, "储运车间气体报警控制器", "是"])
    path = folder / "检测仪台账.xlsx"
    book.save(path)
    return path


def gas(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """Run the controller's day: clean batches, one alarm to the phone, refusals, clearing, retention."""
    from exports.sensor_import import load_sensors
    from sensors.retention import prune
    phone = phone_for(demo, platform)
    with tempfile.TemporaryDirectory() as folder:
        report = load_sensors(_workbook(Path(folder)))
    secrets = {g.code: g.secret for g in report.gateways}
    expect(report.created == DETECTORS and GATEWAY in secrets, "检测仪台账没有导入 100 台探测器和网关")
    say(f"安全管理员 导入检测仪台账：网关 {GATEWAY}，{DETECTORS} 台固定式探测器（{AREA}），密钥只显示一次")
    controller = Controller(demo.app, GATEWAY, secrets[GATEWAY], CODES)

    before = GasReading.select().count()
    for _ in range(5):
        answer = controller.post()
        expect(answer.status_code == 200 and answer.json()["stored"] == DETECTORS, f"清洁读数未入库：{answer.text}")
    stored = GasReading.select().count() - before
    expect(stored == 5 * DETECTORS, f"应入库 {5 * DETECTORS} 条，实际 {stored} 条")
    say(f"  {'批量上报':<12} 控制器每秒上报 {DETECTORS} 台读数，连续 5 次 → 入库 {stored} 条，无报警")

    answer = controller.post({LEAK: {"H2S": 25.0}})
    expect(answer.status_code == 200 and len(answer.json()["alarms"]) == 1, f"报警未产生：{answer.text}")
    wait_delivered()
    alarm = Alarm.get_by_id(answer.json()["alarms"][0])
    officers = [Person.get_by_id(i) for i in alarm.recipients]
    expect(alarm.level == "二级" and officers, "二级报警没有接收人")
    say(f"  {'气体报警':<12} {LEAK} 上报 H2S=25 mg/m³ → {alarm.level}报警，卡片发给 "
        f"{'、'.join(p.name for p in officers)}")
    officer = officers[0]
    user = phone.account(officer)
    card = phone.open_card(user, f"alarm-{alarm.id}-")
    expect(card is not None, f"{officer.name} 的手机上没有报警卡片")
    phone.click(user, card)
    wait_delivered()
    alarm = Alarm.get_by_id(alarm.id)
    expect(alarm.acknowledged_at is not None, "确认收到未记录")
    seconds = (alarm.acknowledged_at - alarm.reading_at).total_seconds()
    say(f"  {'确认收到':<12} {officer.name} 点击“确认收到”，从读数到确认用时 {seconds:.0f} 秒")

    before = GasReading.select().count()
    foreign = controller.post(devices=(*CODES[:3], "GD-0012"))
    forged = controller.post(secret="not-the-secret")
    expect(foreign.status_code == 403 and foreign.json().get("error") == "foreign_device",
           f"冒报他网关检测仪未被拒绝：{foreign.status_code}")
    expect(forged.status_code == 401, f"伪造签名未被拒绝：{forged.status_code}")
    expect(GasReading.select().count() == before, "被拒绝的批次写入了读数")
    say(f"  {'拒绝':<12} 含非本网关检测仪 GD-0012 的批次 → {foreign.status_code} {foreign.json()['error']}；"
        f"签名不符 → {forged.status_code}；均未入库")

    controller.post().raise_for_status()
    alarm = Alarm.get_by_id(alarm.id)
    expect(alarm.cleared_at is not None, "读数恢复后报警未解除")
    say(f"  {'报警解除':<12} 下一批读数合格 → 报警已解除")

    # Two hours on, the scheduler's hourly job keeps what is evidence and rolls up the rest.
    pruned = prune(utcnow() + timedelta(hours=2))
    kept = GasReading.select().where(GasReading.device == LEAK).count()
    rollups = ReadingRollup.select().count()
    expect(rollups > 0 and kept > 0, "保留策略没有生效")
    counts = pruned.as_dict()
    say(f"  {'数据保留':<12} 两小时后：{LEAK} 报警前后的读数原样保留 {kept} 条，其余 {counts['rolled_up']} 条"
        f"折叠为 {rollups} 条每分钟汇总")
