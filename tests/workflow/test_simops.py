"""交叉作业: overlapping permits in one place, judged by the conflict matrix at submit and at approval."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import AuditEvent, Step, find_person
from models.permit import Permit
from tests.conftest import MORNING
from tests.workflow.test_rules import refused
from workflow import InvalidPermit, NotAuthorized, TemplateError, create_permit, machine, sign, simops, submit
from workflow.template import COORDINATE
from workflow.walkthrough import Clock, _act

PEOPLE = dict(crew=("jianghan", "shenli"), guardians=("chuwei",))
SAMPLE = {
    "hot_work": dict(content="DN100 管线法兰焊接", medium="甲烷", attributes={"declared_grade": "二级"}),
    "confined_space": dict(content="储罐内部检查", medium="甲烷", attributes={"space_name": "T-301 储罐"}),
    "blind_plate": dict(content="进料线加盲板", attributes={"blind_no": "MB-301", "action": "堵",
                                                           "pipe": "汽油 0.6MPa 常温"}),
    "height": dict(content="罐顶仪表更换", attributes={"height_m": 12}),
}


def permit_at(work_type: str, location: str, *, start=MORNING, hours: float = 8, applicant="zhuyan",
              crew=("jianghan", "shenli"), guardians=("chuwei",), coordinator=None) -> Permit:
    sample = SAMPLE[work_type]
    return create_permit(work_type, applicant=find_person(applicant), location=location,
                         content=sample["content"], medium=sample.get("medium"),
                         attributes=sample["attributes"], planned_start=start,
                         planned_end=start + timedelta(hours=hours),
                         crew=[find_person(a) for a in crew], guardians=[find_person(a) for a in guardians],
                         coordinator=find_person(coordinator) if coordinator else None,
                         now=start - timedelta(hours=3))


def submitted(permit: Permit, clock: Clock) -> Permit:
    submit(permit.no, by=permit.applicant, now=clock.tick())
    return Permit.get_by_id(permit.id)


def drive_to(permit: Permit, key: str, clock: Clock) -> Step:
    """Act for whoever's turn it is until the step `key` is the active one."""
    for _ in range(30):
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == key:
            return step
        _act(Permit.get_by_id(permit.id), step, clock, lambda line: None)
    raise AssertionError(f"{permit.no} never reached {key}")


def keys(permit: Permit) -> list[str]:
    return [s.key for s in machine.steps(permit) if s.state != "skipped"]


def last_event(permit: Permit, action: str) -> AuditEvent:
    return (AuditEvent.select().where((AuditEvent.permit_no == permit.no) & (AuditEvent.action == action))
            .order_by(AuditEvent.seq.desc()).first())


@pytest.fixture
def clock(plant) -> Clock:
    return Clock(MORNING - timedelta(hours=2))


def test_overlapping_hot_work_and_confined_space_get_a_coordination_step_for_the_area_coordinator(clock):
    hot = submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    entry = submitted(permit_at("confined_space", "3#罐区 T-301 储罐"), clock)

    assert COORDINATE not in keys(hot)
    assert keys(entry).index(COORDINATE) == keys(entry).index("approve_unit") - 1
    event = last_event(entry, "submit")
    assert event.data["simops"] == {"stage": "submit", "decision": "coordinator",
                                    "permits": {hot.no: "coordinator"}}
    step = drive_to(entry, COORDINATE, clock)
    # 3#罐区 names no coordinator of its own: 储运罐区's, the unit above it, is the one.
    assert [p.account for p in machine.assignees(step)] == ["qinchuan"]
    assert simops.overlapping_lines(entry) == [f"须协调：{hot.no}（动火作业，3#罐区 东侧管廊，作业负责人 蒋焊）"]


def test_only_the_coordinator_may_sign_the_coordination_step(clock):
    submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    entry = submitted(permit_at("confined_space", "3#罐区 T-301 储罐"), clock)
    drive_to(entry, COORDINATE, clock)
    with refused(NotAuthorized, "吴海不是“交叉作业协调”的签字人，应由 秦川 签字", entry):
        sign(entry.no, COORDINATE, by=find_person("wuhai"), now=clock.tick())
    out = sign(entry.no, COORDINATE, by=find_person("qinchuan"), now=clock.tick())
    assert machine.active_step(Permit.get_by_id(entry.id)).key == "approve_unit"
    assert out.state == "in_approval"


def test_the_applicant_may_name_the_coordinator(clock):
    submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    entry = submitted(permit_at("confined_space", "3#罐区 T-301 储罐", coordinator="sunli"), clock)
    step = drive_to(entry, COORDINATE, clock)
    assert [p.account for p in machine.assignees(step)] == ["sunli"]


def test_the_earlier_permit_is_sent_to_the_coordinator_when_it_is_approved(clock):
    hot = submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    entry = submitted(permit_at("confined_space", "3#罐区 T-301 储罐"), clock)
    drive_to(hot, "approve_unit", clock)
    approver = find_person("wuhai")
    from workflow import check_in
    check_in(hot.no, by=approver, now=clock.tick())
    out = sign(hot.no, "approve_unit", by=approver, now=clock.tick())

    hot = Permit.get_by_id(hot.id)
    assert machine.active_step(hot).key == COORDINATE
    assert out.detail == f"与 {entry.no} 交叉作业，已转协调人 秦川 协调，协调后再审批"
    assert Step.get((Step.permit == hot) & (Step.key == "approve_unit")).state == "pending"
    assert not machine.signatures(Step.get((Step.permit == hot) & (Step.key == "approve_unit")))
    assert last_event(hot, "sign").data["simops"]["permits"] == {entry.no: "coordinator"}
    sign(hot.no, COORDINATE, by=find_person("qinchuan"), now=clock.tick())
    assert machine.active_step(Permit.get_by_id(hot.id)).key == "approve_unit"
    check_in(hot.no, by=approver, now=clock.tick())
    sign(hot.no, "approve_unit", by=approver, now=clock.tick())
    assert Permit.get_by_id(hot.id).state == "issued"
    assert last_event(hot, "sign").data["simops"] == {"stage": "approve", "decision": "coordinator",
                                                      "permits": {entry.no: "coordinator"}}


def test_a_forbidden_pair_is_refused_naming_the_other_permit(clock):
    hot = submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    blind = permit_at("blind_plate", "3#罐区 进料线", crew=("weidong",), guardians=("chuwei",))
    with refused(simops.Conflict, f"盲板抽堵作业与同一区域、同一时段的 {hot.no}（动火作业，3#罐区 东侧管廊，"
                                  "作业负责人 蒋焊） 不得交叉作业", blind):
        submit(blind.no, by=blind.applicant, now=clock.tick())
    assert Permit.get_by_id(blind.id).state == "draft"


def test_a_forbidden_pair_found_at_approval_refuses_the_approval(clock, monkeypatch):
    hot = submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    submitted(permit_at("height", "3#罐区 罐顶"), clock)
    drive_to(hot, "approve_unit", clock)
    # The plant tightened its matrix while the permit waited.
    tightened = {**simops.matrix(), frozenset(("hot_work", "height")): simops.FORBIDDEN}
    monkeypatch.setattr(simops, "matrix", lambda: tightened)
    from workflow import check_in
    check_in(hot.no, by=find_person("wuhai"), now=clock.tick())
    with refused(simops.ConflictAtApproval, "不得交叉作业", hot):
        sign(hot.no, "approve_unit", by=find_person("wuhai"), now=clock.tick())


@pytest.mark.parametrize("second, start", [("11#罐区 东侧", MORNING), ("3#罐区 西侧", MORNING + timedelta(hours=9))],
                         ids=["sibling-area", "later-window"])
def test_permits_apart_in_place_or_time_do_not_meet(clock, second, start):
    submitted(permit_at("hot_work", "1#罐区 东侧管廊" if "11#" in second else "3#罐区 东侧管廊"), clock)
    other = submitted(permit_at("confined_space", second, start=start), clock)
    assert COORDINATE not in keys(other)
    assert simops.meetings(other) == []


def test_a_permit_at_the_unit_meets_the_permits_in_its_areas(clock):
    hot = submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    unit_wide = submitted(permit_at("height", "储运罐区 管廊"), clock)
    assert [m.other.no for m in simops.meetings(unit_wide)] == [hot.no]


def test_no_coordinator_anywhere_refuses_the_submit(clock):
    from models import Area
    Area.update(coordinator=None).execute()
    submitted(permit_at("hot_work", "3#罐区 东侧管廊"), clock)
    entry = permit_at("confined_space", "3#罐区 T-301 储罐")
    with refused(InvalidPermit, "交叉作业须有协调人，但作业地点所在区域未设协调人", entry):
        submit(entry.no, by=entry.applicant, now=clock.tick())


# --- the matrix file ---

def write(tmp_path, text: str):
    path = tmp_path / "conflicts.toml"
    path.write_text(text, encoding="utf-8")
    return path


CODES = ("hot_work", "height")


@pytest.mark.parametrize("text, message", [
    ('[hot_work]\nhot_work = "allowed"\nheight = "allowed"\n', "no rule for height × height"),
    ('[hot_work]\nhot_work = "maybe"\n', "hot_work.hot_work = 'maybe': use one of allowed, coordinator, forbidden"),
    ('[welding]\nhot_work = "allowed"\n', "[welding] is not a work type"),
    ('[hot_work]\nheight = "allowed"\n[height]\nhot_work = "forbidden"\n', "height × hot_work is given twice"),
    ('[hot_work\n', "not valid TOML"),
], ids=["missing-pair", "unknown-rule", "unknown-type", "twice", "not-toml"])
def test_a_bad_matrix_is_refused_at_load_naming_the_entry(tmp_path, text, message):
    with pytest.raises(TemplateError) as caught:
        simops.load(write(tmp_path, text), codes=CODES)
    assert message in str(caught.value)


def test_the_shipped_matrix_covers_every_pair_of_the_shipped_types():
    assert simops.rule("hot_work", "confined_space") == simops.COORDINATOR
    assert simops.rule("blind_plate", "hot_work") == simops.FORBIDDEN
    assert simops.rule("temp_power", "hot_work") == simops.ALLOWED
