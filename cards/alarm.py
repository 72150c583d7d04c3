"""Build the card one person gets for a gas-detector alarm, and the card it becomes once confirmed."""
from __future__ import annotations

import settings
from models import Alarm
from models.area import Area
from models.emergency import DRILL, EMERGENCY, MUSTER_LEVELS
from models.permit import Permit
from sensors import levels
from workflow.clock import local
from workflow.gas import GAS_LABELS, UNITS

from . import actions, links
from .card import DANGER, Button, Card, Field

TITLES = {levels.FIRST: "气体一级报警：请确认收到", levels.SECOND: "气体二级报警：立即停止作业",
          levels.OFF_LIMITS: "气体超出作业限值：立即停止作业", levels.OFFLINE: "检测仪离线",
          EMERGENCY: "【应急】立即停止作业，撤离到安全区", DRILL: "【演练】应急演练：停止作业，撤离到安全区"}
BUTTONS = {EMERGENCY: "已撤离到安全区", DRILL: "已撤离到安全区"}
DONE = {EMERGENCY: "已撤离到安全区", DRILL: "已撤离到安全区（演练）"}


def url_of(alarm: Alarm, base_url: str) -> str:
    base = base_url.rstrip("/")
    permit = Permit.get_or_none(Permit.no == alarm.permit_nos[0]) if alarm.permit_nos else None
    return links.url(permit, base_url=base) if permit is not None else f"{base}/alarms/{alarm.id}"


def alarm_card(alarm_id: int, *, person_id: int, round: int, public_base_url: str,
               serial: int | None = None) -> Card:
    """Return the alarm card with its 确认收到 button."""
    alarm = Alarm.get_by_id(alarm_id)
    stops = alarm.level in levels.STOPS_WORK or bool(alarm.suspended) or alarm.level in MUSTER_LEVELS
    button = BUTTONS.get(alarm.level, "确认收到")
    notice = f"请点击“{button}”"
    if alarm.suspended:
        notice = f"已暂停：{'、'.join(alarm.suspended)}。立即停止作业并撤离，{notice}"
    elif alarm.level in MUSTER_LEVELS:
        notice = f"立即停止作业并撤离，到达安全区后{notice}"
    if round > 1:
        notice = f"第 {round} 次发送，尚无人确认。{notice}"
    task_id = f"alarm-{alarm.id}-r{round}-p{person_id}" + (f"-n{serial}" if serial is not None else "")
    return Card(kind="alarm", task_id=task_id, title=TITLES[alarm.level], subtitle=alarm.text,
                fields=_fields(alarm), buttons=(Button(button, actions.alarm_key(alarm.id), DANGER),),
                url=url_of(alarm, public_base_url), notice=notice,
                emphasis="立即停止作业" if stops else "")


def confirmed_card(alarm_id: int, *, task_id: str, text: str, public_base_url: str) -> Card:
    """Return what an alarm card turns into after its person confirmed it."""
    alarm = Alarm.get_by_id(alarm_id)
    return Card(kind="outcome", task_id=task_id, title=f"{DONE.get(alarm.level, '已确认收到')}：{TITLES[alarm.level]}",
                subtitle=alarm.text, fields=_fields(alarm), buttons=(),
                url=url_of(alarm, public_base_url), notice=text)


def _fields(alarm: Alarm) -> tuple[Field, ...]:
    tz = settings.current().plant_tz
    if alarm.level in MUSTER_LEVELS:
        return _emergency_fields(alarm, tz)
    # The gas is named: a detector may measure a dozen of them, and the unit alone does not say which.
    reading = (f"{GAS_LABELS.get(alarm.gas, alarm.gas)} {alarm.value:g} {UNITS.get(alarm.gas, '')}".rstrip()
               if alarm.gas and alarm.value is not None else "—")
    return (Field("检测仪", alarm.device or "人工检测"), Field("区域", alarm.area or "—"),
            Field("读数", reading), Field("级别", alarm.level),
            Field("时间", f"{local(alarm.reading_at, tz):%m-%d %H:%M:%S}"),
            Field("作业票", "、".join(alarm.permit_nos) or "未绑定作业票"))


def _emergency_fields(alarm: Alarm, tz) -> tuple[Field, ...]:
    area, where = Area.get_or_none(Area.name == alarm.area), "—"
    # A place without its own position is shown at the nearest place above it that has one.
    while area is not None:
        if area.latitude is not None:
            where = f"{area.latitude:.5f}, {area.longitude:.5f}" + ("" if area.name == alarm.area else f"（{area.name}）")
            break
        area = area.parent
    return (Field("区域", alarm.area or "—"), Field("坐标", where), Field("类别", alarm.level),
            Field("时间", f"{local(alarm.reading_at, tz):%m-%d %H:%M:%S}"),
            Field("作业票", "、".join(alarm.permit_nos) or "无进行中的作业票"))
