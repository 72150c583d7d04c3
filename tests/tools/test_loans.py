"""The tool gate of a step and the loan rules, on the engine without the chat."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from models import find_person
from models.tool import Tool
from tests.conftest import MORNING
from tools import loans
from workflow.errors import GateNotMet, InvalidTransition, NotAuthorized, NotFound
from workflow.walkthrough import draft

DETECTOR, HARNESS = "便携式气体检测仪", "安全带"


def tool(no: str, kind: str, due_on: date, keeper: str = "sunli") -> Tool:
    return Tool.create(no=no, kind=kind, cycle_months=12, tested_on=due_on - timedelta(days=365), due_on=due_on,
                       keeper=find_person(keeper), limit_hours=8)


def test_without_a_register_the_gate_is_not_in_force(plant):
    permit = draft("height", start=MORNING)
    assert loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=MORNING) == []


def test_a_kind_missing_from_the_register_or_not_in_hand_is_named(plant):
    permit = draft("height", start=MORNING)
    tool("GJ-0001", DETECTOR, date(2027, 6, 1))
    assert loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=MORNING) == [
        "工器具登记册中没有“安全带”，请保管人先登记"]
    tool("AQD-0001", HARNESS, date(2027, 6, 1))
    assert loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=MORNING) == [
        "须先扫码领用安全带（扫描工器具上的二维码）"]


def test_a_harness_held_by_the_crew_opens_the_gate_until_its_test_falls_due(plant):
    permit = draft("height", start=MORNING)
    crew = permit.members.first().person   # anyone named on the permit may hold it, not only the signer
    tool("AQD-0001", HARNESS, date(2026, 11, 24))
    loans.check_out("AQD-0001", by=crew, now=MORNING)
    assert loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=MORNING) == []
    next_day = MORNING + timedelta(days=1)
    assert loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=next_day) == [
        "安全带 AQD-0001 检验有效期至 2026-11-24，已过期，不能使用；请归还并另领检验合格的安全带"]
    stranger = tool("AQD-0002", HARNESS, date(2027, 6, 1))
    loans.check_out(stranger.no, by=find_person("lizheng"), now=MORNING)   # held, but by no one on the permit
    assert len(loans.problems(permit, kinds=(HARNESS,), person=find_person("chuwei"), at=next_day)) == 1


def test_the_loan_rules_refuse_in_plain_chinese_and_change_nothing(plant):
    tool("GJ-0001", DETECTOR, date(2026, 11, 30))
    chenjian, heliang, sunli = find_person("chenjian"), find_person("heliang"), find_person("sunli")
    with pytest.raises(NotFound, match="没有编号为 GJ-9999 的工器具"):
        loans.check_out("GJ-9999", by=chenjian, now=MORNING)
    with pytest.raises(InvalidTransition, match="GJ-0001 未被领用，无需归还"):
        loans.give_back("GJ-0001", by=chenjian, now=MORNING)
    loans.check_out("GJ-0001", by=chenjian, now=MORNING)
    with pytest.raises(InvalidTransition, match="无需重复领用"):
        loans.check_out("GJ-0001", by=chenjian, now=MORNING)
    with pytest.raises(NotAuthorized, match="由 陈检 领用，只能由领用人或保管人 孙立 办理归还"):
        loans.give_back("GJ-0001", by=heliang, now=MORNING)
    assert Tool.get(Tool.no == "GJ-0001").holder_id == chenjian.id
    loans.give_back("GJ-0001", by=sunli, now=MORNING)   # the keeper takes back a tool left on the shelf
    with pytest.raises(GateNotMet, match="检验有效期至 2026-11-30，已过期，不得领用；请交保管人 孙立 送检"):
        loans.check_out("GJ-0001", by=chenjian, now=MORNING + timedelta(days=7))
    assert Tool.get(Tool.no == "GJ-0001").holder_id is None


def test_the_start_of_work_at_height_waits_for_a_harness_in_hand(plant):
    from tests.workflow.test_rules import clock_for, drive_to, reload
    from workflow.walkthrough import _act
    permit = draft("height", start=MORNING)
    clock = clock_for(permit)
    step = drive_to(permit, "start", clock)
    tool("AQD-0001", HARNESS, date(2027, 6, 1))   # the register is loaded: the gate is in force
    clock.now = max(clock.now, permit.planned_start)
    with pytest.raises(GateNotMet, match="须先扫码领用安全带"):
        _act(reload(permit), step, clock, lambda line: None)
    assert reload(permit).state == "issued"
    loans.check_out("AQD-0001", by=permit.members.first().person, now=clock.tick())
    _act(reload(permit), step, clock, lambda line: None)
    assert reload(permit).state == "in_progress"
