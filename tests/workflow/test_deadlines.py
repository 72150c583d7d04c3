"""Reminders, escalation up the chain and gas re-test reminders, on a controllable clock."""
from datetime import timedelta

import pytest

import settings
from models import AuditEvent, Outbox, Step, StepAssignee
from models.permit import Permit
from tests.conftest import MORNING
from workflow import deadlines, engine, machine, work
from workflow.walkthrough import Clock, _act, draft

MIN = timedelta(minutes=1)


@pytest.fixture
def quiet_off(plant):
    settings.configure({"QUIET_HOURS": "off"})
    yield
    settings.configure()


def submitted(start=MORNING):
    permit = draft("hot_work", start=start)
    at = start - timedelta(hours=3)
    engine.submit(permit.no, by=permit.applicant, now=at)
    return Permit.get_by_id(permit.id), at


def notes(permit, action):
    """Return (account, kind, text) of the outbox rows written by the permit's last `action` event."""
    event = (AuditEvent.select().where((AuditEvent.permit_no == permit.no) & (AuditEvent.action == action))
             .order_by(AuditEvent.seq.desc()).first())
    return {(r.person.account, r.kind, r.payload["text"]) for r in Outbox.select()
            if r.payload.get("event") == event.seq}


def test_signers_are_reminded_once_at_half_their_time(quiet_off):
    permit, at = submitted()                    # 作业计划: 120 min for 郑计
    assert deadlines.remind_due(at + 59 * MIN) == []
    done = deadlines.remind_due(at + 61 * MIN)
    assert [o.permit_no for o in done] == [permit.no]
    [(account, kind, text)] = notes(permit, "remind")
    assert (account, kind) == ("zhengji", "act") and "已等待 1 小时 1 分" in text
    assert deadlines.remind_due(at + 90 * MIN) == []          # once only


def test_reminders_wait_out_the_quiet_hours_escalation_does_not(plant):
    night = MORNING - timedelta(hours=9)        # 23:00 plant time, the day before
    permit, at = submitted(start=MORNING + timedelta(hours=2))
    Step.update(remind_at=night, escalate_at=night).where(Step.permit == permit).execute()
    assert deadlines.remind_due(night + MIN) == []
    assert len(deadlines.escalate_due(night + MIN)) == 1
    assert len(deadlines.remind_due(MORNING - MIN)) == 1      # 07:59: quiet hours are over


def test_an_overdue_step_climbs_the_chain_and_the_first_signers_keep_their_right(quiet_off):
    permit, at = submitted()
    clock = Clock(at)
    for _ in range(10):                          # get to 基层单位审批 (60 min; chain 专业部门 → 安全管理部门)
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == "approve_unit":
            break
        _act(Permit.get_by_id(permit.id), step, clock, lambda line: None)
    opened = step.activated_at
    assert deadlines.escalate_due(opened + 59 * MIN) == []
    deadlines.escalate_due(opened + 61 * MIN)
    assert {(a, k) for a, k, _ in notes(permit, "escalate")} == {("lizheng", "act"), ("zhuyan", "info")}
    assert any("已上报专业部门负责人 李正" in t for _, _, t in notes(permit, "escalate"))
    deadlines.escalate_due(opened + 122 * MIN)
    assert {(a, k) for a, k, _ in notes(permit, "escalate")} == {("qiananping", "act"), ("zhuyan", "info")}
    assert deadlines.escalate_due(opened + 300 * MIN) == []   # the chain is used up
    assert deadlines.escalate_due(opened + 30 * MIN) == []    # a clock stepped back finds nothing due
    reasons = {(a.person.account, a.reason) for a in StepAssignee.select().where(StepAssignee.step == step)}
    assert reasons == {("wuhai", "assigned"), ("shiwen", "assigned"), ("lizheng", "escalated"),
                       ("qiananping", "escalated")}
    # The escalated 李正 may sign (after checking in on site), as may the unit heads.
    when = opened + 130 * MIN
    engine.check_in(permit.no, by=machine.assignees(step)[2], now=when)
    out = engine.sign(permit.no, "approve_unit", by=machine.assignees(step)[2], now=when + MIN)
    assert out.state in ("in_approval", "issued")
    settled = {(r.person.account, r.kind) for r in Outbox.select() if r.payload.get("step") == "approve_unit"
               and r.kind == "outcome"}
    assert settled == {("wuhai", "outcome"), ("shiwen", "outcome"), ("lizheng", "outcome"), ("qiananping", "outcome")}


def test_a_scan_killed_half_way_leaves_the_rest_due_and_repeats_nothing(quiet_off, monkeypatch):
    first, at = submitted()
    second, _ = submitted()
    due = at + 121 * MIN
    real = deadlines.escalate
    calls = []

    def dies_on_the_second(no, step_id, *, now):
        calls.append(no)
        if len(calls) == 2:
            raise SystemExit("scheduler killed")
        return real(no, step_id, now=now)

    monkeypatch.setattr(deadlines, "escalate", dies_on_the_second)
    with pytest.raises(SystemExit):
        deadlines.escalate_due(due)
    monkeypatch.setattr(deadlines, "escalate", real)
    assert len(deadlines.escalate_due(due)) == 1               # only the one the crash left
    per_permit = {p.no: AuditEvent.select().where((AuditEvent.permit_no == p.no)
                                                  & (AuditEvent.action == "escalate")).count()
                  for p in (first, second)}
    assert per_permit == {first.no: 1, second.no: 1}


def test_a_long_suspension_asks_the_gas_tester_to_test_again(quiet_off):
    permit, at = submitted()
    clock = Clock(at)
    for _ in range(20):
        current = Permit.get_by_id(permit.id)
        if current.state == "in_progress":
            break
        step = machine.active_step(current)
        if step.phase == "start" and clock.now < current.planned_start:
            clock.now = current.planned_start
        _act(current, step, clock, lambda line: None)
    suspended = clock.tick()
    work.suspend(permit.no, by=current.members[0].person, reason="风力加大", now=suspended)
    assert deadlines.retest_due(suspended + 29 * MIN) == []     # 一级 hot work: 30 min
    assert len(deadlines.retest_due(suspended + 31 * MIN)) == 1
    assert {("chenjian", "info"), ("chuwei", "info")} <= {(a, k) for a, k, _ in notes(permit, "retest")}
    assert deadlines.retest_due(suspended + 60 * MIN) == []
