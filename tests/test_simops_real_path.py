"""交叉作业 end to end, on WeCom and on DingTalk: two permits applied for in chat at one place and time,
the coordination step on the coordinator's phone, the approver's card and the board naming the other
permit, and a forbidden pair refused in chat."""
from __future__ import annotations

import pytest
import requests

from cards import links
from models import AuditEvent, Step
from models.permit import Permit
from tests.test_wecom_real_path import apply_text, take_one
from tests.worlds import world as a_world
from workflow import machine
from workflow.template import COORDINATE

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
ENTRY = "介质: 甲烷\n受限空间名称: T-301 储罐"
BLIND = "盲板编号: MB-301\n抽堵: 堵\n管道介质、温度、压力: 汽油 0.6MPa 常温"


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def texts(phone, user: str) -> list[str]:
    return [m["content"]["content"] for m in phone.messages(user) if m["msgtype"] == "text"]


def apply(phone, drain, kind: str, extra: str, place: str) -> Permit:
    phone.text("zhuyan", apply_text(kind, extra).replace("3#罐区东侧管廊", place))
    drain()
    return Permit.select().order_by(Permit.id.desc()).first()


def until(phone, drain, permit: Permit, key: str) -> Step:
    for _ in range(15):
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == key:
            return step
        take_one(phone, drain, permit.no)
    raise AssertionError(f"{permit.no} never reached {key}")


@BOTH
def test_overlapping_hot_work_and_confined_space_go_through_the_coordinator(world):
    phone, drain = world.phone, world.drain
    hot = apply(phone, drain, "动火作业", "级别: 二级\n介质: 甲烷", "3#罐区东侧管廊")
    entry = apply(phone, drain, "受限空间作业", ENTRY, "3#罐区 T-301 储罐")
    assert (hot.state, entry.state) == ("in_approval", "in_approval")
    assert [s.key for s in machine.steps(entry) if s.state == "pending"][:2] == ["assess", "briefing"]

    until(phone, drain, entry, COORDINATE)
    card = phone.open_card("qinchuan", f"{entry.no}-{COORDINATE}-r1-")
    assert phone.buttons(card) == ["同意", "退回修改", "驳回"]
    assert f"须协调：{hot.no}（动火作业，3#罐区东侧管廊，作业负责人 蒋焊）" in str(card["state"]["card"])

    # Anyone but the coordinator is refused, with who may sign.
    phone.text("wuhai", f"驳回 {entry.no} {COORDINATE} 不同意")
    drain()
    assert "未办理：吴海不是“交叉作业协调”的签字人，应由 秦川 签字" in str(phone.messages("wuhai")[-1])
    assert machine.active_step(Permit.get_by_id(entry.id)).key == COORDINATE

    phone.click("qinchuan", card)
    drain()
    step = machine.active_step(Permit.get_by_id(entry.id))
    assert step.key == "approve_unit"
    approver = phone.open_card("wuhai", f"{entry.no}-approve_unit-r1-")
    assert hot.no in str(approver["state"]["card"])
    board = requests.get(links.url(Permit.get_by_id(entry.id), path="/live"), timeout=10)
    assert "交叉作业" in board.text and hot.no in board.text
    submitted = AuditEvent.get((AuditEvent.permit_no == entry.no) & (AuditEvent.action == "submit"))
    assert submitted.data["simops"]["permits"] == {hot.no: "coordinator"}


@BOTH
def test_a_forbidden_pair_is_refused_in_chat_naming_the_other_permit(world):
    phone, drain = world.phone, world.drain
    hot = apply(phone, drain, "动火作业", "级别: 二级\n介质: 甲烷", "3#罐区东侧管廊")
    blind = apply(phone, drain, "盲板抽堵作业", BLIND, "3#罐区 进料线")
    assert blind.id != hot.id and blind.state == "draft"
    refusal = (f"盲板抽堵作业与同一区域、同一时段的 {hot.no}（动火作业，3#罐区东侧管廊，作业负责人 蒋焊） "
               "不得交叉作业（交叉作业规定：禁止）。请错开时间或地点")
    assert texts(phone, "zhuyan")[-1].startswith(f"草稿 {blind.no} 已保存，但未能提交：{refusal}")
    assert Step.select().where(Step.permit == blind).count() == 0
    audited = AuditEvent.get((AuditEvent.permit_no == blind.no) & (AuditEvent.action == "refused"))
    assert audited.data["reason"] == refusal
