"""Chat commands of an emergency: 应急 / 演练 <区域> <说明>, 清点 <区域>, 解除应急 <区域> <处置情况>."""
from __future__ import annotations

from emergency import stop
from emergency.muster import muster, summary, url
from models import Person
from workflow import WorkflowError


def _words(head: str, usage: str) -> str:
    parts = head.split(maxsplit=1)
    if len(parts) < 2:
        raise WorkflowError(f"格式：{usage}")
    return parts[1]


def _raise(drill: bool):
    word = "演练" if drill else "应急"

    def handle(head, _lines, person: Person, reply, _event) -> None:
        raised = stop.raise_emergency(_words(head, f"{word} 区域 情况说明"), by=person, drill=drill)
        e = raised.emergency
        if raised.joined:
            reply(f"{stop.tag(e.drill)}{e.area.name} 已有未解除的应急（{e.raised_by.name} 发起），您的报告已并入；"
                  f"新暂停：{'、'.join(raised.suspended) or '无'}")
            return
        reply(f"{stop.tag(drill)}已发起：{e.area.name}。已暂停：{'、'.join(raised.suspended) or '无'}；"
              f"已通知 {len(e.alarm.recipients)} 人撤离。人员清点：{url(e)}（或发送“清点 {e.area.name}”）")
    return handle


def _muster(head, _lines, person: Person, reply, _event) -> None:
    area, _ = stop.area_named(_words(head, "清点 区域"))
    current = stop.open_for(area)
    if current is None:
        raise WorkflowError(f"{area.name}没有未解除的应急")
    reply(f"{summary(muster(current))}\n清点页面：{url(current)}")


def _close(head, _lines, person: Person, reply, _event) -> None:
    closed = stop.close(_words(head, "解除应急 区域 处置情况"), by=person)
    reply(f"{stop.tag(closed.drill)}{closed.area.name} 已解除，处置情况已记录。\n{summary(muster(closed))}")


COMMANDS = {"应急": _raise(False), "演练": _raise(True), "清点": _muster, "解除应急": _close}
