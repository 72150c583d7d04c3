"""The transition table: every state reachable, every move taken through the engine, nothing else allowed."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from models import AuditEvent
from tests.workflow.test_transitions import STATES, attempt, go_to, load, permit_in, who
from workflow import InvalidTransition, TemplateError, machine, record_gas, submit
from workflow.states import (COMMAND_LABELS, COMMANDS, FINAL, INITIAL, LABELS, TRANSITIONS, allowed, check,
                             mermaid, move)
from workflow.template import TEMPLATE_DIR, load_file
from workflow.walkthrough import PASSING_GAS, _act

MOVES = [row for row in TRANSITIONS if row.dest is not None]
KEEPS = [row for row in TRANSITIONS if row.dest is None]


def row_id(row) -> str:
    return f"{row.source}-{row.event}-{row.dest or 'stays'}"


def moves_seen(no: str) -> set[tuple[str, str, str]]:
    """Return (state before, command, state after) of every command the audit chain holds for the permit."""
    seen, state = set(), None
    for event in AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq):
        snapshot = event.data.get("snapshot")
        if snapshot is None:   # refusals and alarms change no permit
            continue
        if state is not None:
            seen.add((state, event.action, snapshot["state"]))
        state = snapshot["state"]
    return seen


def sign_a_preparation_step() -> str:
    no, clock = permit_in("draft")
    submit(no, by=load(no).applicant, now=clock.tick())
    _act(load(no), machine.active_step(load(no)), clock, lambda line: None)
    assert machine.active_step(load(no)).phase == "prepare"
    return no


def pass_the_gas_step() -> str:
    no, clock = permit_in("draft")
    submit(no, by=load(no).applicant, now=clock.tick())
    go_to(no, clock, "gas")
    record_gas(no, by=machine.assignees(machine.active_step(load(no)))[0], values=PASSING_GAS, now=clock.tick())
    assert machine.active_step(load(no)).phase == "approve"
    return no


def fail_a_reading_during_work() -> str:
    no, clock = permit_in("in_progress")
    # 1.0 %vol of methane: over the hot-work limit, under the first alarm level.
    record_gas(no, by=who("chenjian"), values={**PASSING_GAS, "EX": 20}, now=clock.tick())
    return no


def sign_through(source: str, until: str | None):
    def drive() -> str:
        no, clock = permit_in(source)
        go_to(no, clock, until)
        return no
    return drive


def issue(source: str, command: str):
    def drive() -> str:
        no, clock = permit_in(source)
        attempt(command, no, clock)
        return no
    return drive


# How to take each move of the table through the public commands, on the sample hot-work permit.
DRIVERS = {
    ("in_approval", "sign", "in_approval"): sign_a_preparation_step,
    ("in_approval", "sign", "issued"): sign_through("in_approval", "start"),
    ("issued", "sign", "in_progress"): sign_through("issued", "work"),
    ("in_progress", "sign", "completed"): sign_through("in_progress", "accept"),
    ("completed", "sign", "accepted"): sign_through("completed", "close"),
    ("accepted", "sign", "closed"): sign_through("accepted", None),
    ("in_approval", "record_gas", "in_approval"): pass_the_gas_step,
    ("in_progress", "record_gas", "suspended"): fail_a_reading_during_work,
}


@pytest.mark.parametrize("row", MOVES, ids=row_id)
def test_every_move_of_the_table_is_taken_through_the_engine(plant, row):
    drive = DRIVERS.get((row.source, row.event, row.dest), issue(row.source, row.event))
    no = drive()
    assert (row.source, row.event, row.dest) in moves_seen(no)
    assert load(no).state == row.dest


@pytest.mark.parametrize("row", KEEPS, ids=row_id)
def test_a_command_that_keeps_the_state_is_accepted_and_cannot_move_it(row):
    permit = SimpleNamespace(no="DH-TEST", state=row.source)
    assert allowed(row.source, row.event)
    check(permit, row.event)
    if not any(m.source == row.source and m.event == row.event for m in MOVES):
        with pytest.raises(InvalidTransition) as refused:
            move(permit, row.event)
        assert (refused.value.command, refused.value.state) == (row.event, row.source)
        assert permit.state == row.source


def test_every_state_is_reachable_from_draft():
    reached, frontier = {INITIAL}, [INITIAL]
    while frontier:
        state = frontier.pop()
        for row in MOVES:
            if row.source == state and row.dest not in reached:
                reached.add(row.dest)
                frontier.append(row.dest)
    assert reached == set(LABELS) == set(STATES)


def test_final_states_have_no_way_out():
    assert FINAL == {"closed", "rejected", "cancelled", "expired"}
    assert [row for row in TRANSITIONS if row.source in FINAL] == []
    assert all(any(row.source == state for row in MOVES) for state in set(LABELS) - FINAL)


def test_every_row_names_known_states_a_labelled_command_and_a_guard():
    for row in TRANSITIONS:
        assert row.source in LABELS and (row.dest is None or row.dest in LABELS)
        assert row.event in COMMAND_LABELS and row.guard
    assert len(set(TRANSITIONS)) == len(TRANSITIONS)
    assert set(COMMANDS) == set(COMMAND_LABELS)


@pytest.mark.parametrize("state", STATES)
def test_every_command_outside_the_table_is_refused_by_name(plant, state):
    no, _clock = permit_in(state)
    version = load(no).version

    def body(ctx) -> None:
        pytest.fail(f"{ctx.command} ran in {state}")

    held = {row.event for row in TRANSITIONS if row.source == state}
    for command in sorted(set(COMMAND_LABELS) - held):
        expected = f"作业票 {no} 当前状态为“{LABELS[state]}”，不能{COMMAND_LABELS[command]}"
        with pytest.raises(InvalidTransition) as through_table:
            move(SimpleNamespace(no=no, state=state), command)
        with pytest.raises(InvalidTransition) as through_engine:
            machine.run(no, command, body, by=None)
        for refused in (through_table.value, through_engine.value):
            assert (refused.command, refused.state, refused.message) == (command, state, expected)
    assert (load(no).state, load(no).version) == (state, version)


def test_a_move_the_table_does_not_hold_is_refused_and_changes_nothing():
    permit = SimpleNamespace(no="DH-TEST", state="in_progress")
    with pytest.raises(InvalidTransition) as refused:
        move(permit, "sign", "closed")
    assert refused.value.message == "作业票 DH-TEST 当前状态为“作业中”，签字不能转为“已关闭”"
    assert (refused.value.command, refused.value.state, permit.state) == ("sign", "in_progress", "in_progress")
    # Two moves lead on from here by signing: the engine must say which one it takes.
    with pytest.raises(InvalidTransition):
        move(SimpleNamespace(no="DH-TEST", state="in_approval"), "sign")


def test_the_table_accepts_what_the_engine_accepted_before_it():
    approving = {"in_approval", "issued", "in_progress", "completed", "accepted"}
    live = {"in_approval", "issued", "in_progress", "suspended"}
    on_site = live | {"completed", "rectifying", "accepted"}
    assert {command: set(states) for command, states in COMMANDS.items()} == {
        "edit": {"draft"}, "submit": {"draft"}, "sign": approving, "reject": {"in_approval"},
        "return": {"in_approval"}, "cancel": {"draft", "in_approval", "issued", "suspended"},
        "record_gas": live, "check_in": on_site, "check_out": on_site,
        "attach": {"draft"} | on_site - {"accepted"}, "suspend": {"in_progress"}, "resume": {"suspended"},
        "reject_acceptance": {"completed"}, "rectified": {"rectifying"},
        "request_change": {"issued", "in_progress", "suspended"},
        "decide_change": {"issued", "in_progress", "suspended"}, "reissue_code": on_site, "expire": live, "remind": approving,
        "escalate": approving, "retest": {"suspended"}, "remind_reading": {"in_progress"},
        "chase_rectification": {"rectifying"}, "bind_sensor": live, "unbind_sensor": live,
        "isolate": {"draft", "in_approval", "issued"}, "handover": {"issued", "in_progress", "suspended"},
        "handover_confirm": {"issued", "in_progress", "suspended"},
    }


def test_the_diagram_draws_every_move_once_per_pair_of_states():
    lines = mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert '    state "草稿" as draft' in lines and "    [*] --> draft" in lines
    assert "    in_progress --> suspended : 气体检测（不合格或报警） / 暂停作业" in lines
    assert "    in_approval --> in_approval : 签字（下一步骤） / 气体检测（合格）" in lines
    assert "    issued --> in_progress : 签字（开工确认）" in lines
    assert {line for line in lines if line.endswith("--> [*]")} == {f"    {s} --> [*]" for s in FINAL}
    edges = [line.split(" : ")[0].strip() for line in lines if " : " in line]
    assert sorted(edges) == sorted({f"{r.source} --> {r.dest}" for r in MOVES})
    assert "现场签到" not in mermaid()
    staying = ("签字（会签未齐） / 气体检测 / 变更申请 / 审批变更 / 现场签到 / 离开现场 / 重发现场二维码 / 上传照片 / 催办 / "
               "超时上报 / 提醒气体检测 / 绑定检测仪 / 解绑检测仪 / 交接班 / 确认交接班")
    assert f"    in_progress --> in_progress : {staying}" in mermaid(internal=True).splitlines()


def test_a_template_whose_steps_need_a_move_outside_the_table_is_refused(tmp_path):
    text = (TEMPLATE_DIR / "hot_work.toml").read_text(encoding="utf-8")
    own = text.replace('code = "hot_work"', 'code = "grinding"').replace('prefix = "DH"', 'prefix = "DM"')
    path = tmp_path / "grinding.toml"
    path.write_text(own, encoding="utf-8")
    assert load_file(path).code == "grinding"
    # Without an approval for grade 二级, a passing gas reading would have to issue the permit.
    path.write_text(own.replace('role = "基层单位负责人"\nscope = "unit"',
                                'role = "基层单位负责人"\ngrades = ["特级", "一级"]\nscope = "unit"', 1),
                    encoding="utf-8")
    with pytest.raises(TemplateError) as refused:
        load_file(path)
    assert str(refused.value) == ("grinding.toml: steps.gas -> steps.start (grade 二级): record_gas would move "
                                  "the permit from in_approval to issued, which the state table does not allow")
