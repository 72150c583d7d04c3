"""The state machine: every command in every state, and each side path a permit can take."""
from __future__ import annotations

from hazards import rectification
from isolation import points
from models.handover import Handover
from workflow import handover, running

import hashlib
from datetime import datetime, timedelta

import pytest

from models import Attachment, AuditEvent, ChangeRequest, Outbox, Person, Signature, Step, find_person
from models.permit import Permit, PermitMember
from tests.conftest import MORNING
from sensors import watch
from workflow import (AlreadySigned, GateNotMet, deadlines, InvalidPermit, InvalidTransition, NotAuthorized,
                      StaleVersion, WorkflowError, accept, attach, audit, cancel, check_in, check_out, close,
                      edit_draft, expire, expire_due, extend, machine, record_gas, rectified, reject,
                      reject_acceptance, request_change, resume, return_for_revision, sign, submit,
                      suspend, template)
from workflow.changes import decide
from workflow.site_code import reissue
from workflow.deadlines import NothingDue
from workflow.errors import NotFound
from workflow.states import COMMAND_LABELS, COMMANDS, LABELS
from workflow.walkthrough import PASSING_GAS, Clock, _act, draft

STATES = ["draft", "in_approval", "issued", "in_progress", "suspended", "completed", "rectifying",
          "accepted", "closed", "rejected", "cancelled", "expired"]
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
# The sample permit's two workers and its guardian, each told to stop work.
CREW_STOP = {("jianghan", "stop"), ("shenli", "stop"), ("chuwei", "stop")}


# --- helpers ---------------------------------------------------------------------------------

def who(account: str) -> Person:
    return find_person(account)


def load(no: str) -> Permit:
    return Permit.get(Permit.no == no)


def step_states(no: str) -> dict[str, str]:
    return {s.key: s.state for s in Step.select().where(Step.permit == load(no))}


def go_to(no: str, clock: Clock, until: str | None) -> None:
    """Act as whoever's turn it is until the step or phase until is active (None: to the close)."""
    for _ in range(30):
        permit = load(no)
        step = machine.active_step(permit)
        if step is None or until in (step.phase, step.key):
            return
        if step.phase == "start" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        _act(permit, step, clock, lambda line: None)
    raise AssertionError(f"{no} never reached {until}")


def permit_in(state: str, *, hours: float = 8, start: datetime = MORNING,
              grade: str | None = None) -> tuple[str, Clock]:
    """Create the sample hot-work permit and take it to state through the public commands."""
    clock = Clock(start - timedelta(minutes=90))
    no = draft("hot_work", start=start, hours=hours).no
    applicant = load(no).applicant
    if grade:
        edit_draft(no, by=applicant, attributes={"declared_grade": grade}, now=clock.tick())
    if state == "cancelled":
        cancel(no, by=applicant, reason="计划调整", now=clock.tick())
    elif state != "draft":
        submit(no, by=applicant, now=clock.tick())
        go_to(no, clock, "approve")
        if state == "rejected":
            reject(no, "approve_unit", by=who("wuhai"), reason="措施不全", now=clock.tick())
        elif state != "in_approval":
            _past_approval(state, no, clock)
    assert load(no).state == state
    return no, clock


def _past_approval(state: str, no: str, clock: Clock) -> None:
    go_to(no, clock, "start")
    clock.now = max(clock.now, load(no).planned_start)
    if state == "issued":
        return
    go_to(no, clock, "work")
    if state == "suspended":
        suspend(no, by=who("chuwei"), reason="风力加大", now=clock.tick())
    elif state == "expired":
        expire(no, now=load(no).planned_end)
    elif state != "in_progress":
        go_to(no, clock, "accept")
        if state == "rectifying":
            reject_acceptance(no, by=who("yangshou"), reason="现场未清理", deadline=clock.now + HOUR,
                              now=clock.tick())
        elif state != "completed":
            go_to(no, clock, "close" if state == "accepted" else None)


def footprint(no: str) -> tuple:
    """Everything a refused command must leave as it was."""
    permit = load(no)
    return (permit.version, permit.state, step_states(no), Signature.select().count(),
            AuditEvent.select().count(), Outbox.select().count())


def told(out) -> set[tuple[str, str]]:
    """Return who an Outcome notified, as (account, kind)."""
    return {(Person.get_by_id(n.person_id).account, n.kind) for n in out.notifications}


def outbox(no: str) -> set[tuple[str, str]]:
    """Return the outbox rows of the permit's latest audit event, as (account, kind)."""
    seq = AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq.desc()).first().seq
    return {(row.person.account, row.kind) for row in Outbox.select().where(Outbox.permit_no == no)
            if row.payload["event"] == seq}


def last_event(no: str) -> AuditEvent:
    return AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq.desc()).first()


def signatures(no: str, step_key: str) -> list[tuple[int, str, str]]:
    """Return (round, account, decision) of every signature on a step, oldest first."""
    step = Step.get((Step.permit == load(no)) & (Step.key == step_key))
    return [(s.round, s.person.account, s.decision)
            for s in Signature.select().where(Signature.step == step).order_by(Signature.id)]


# --- every command in every state ------------------------------------------------------------

def attempt(command: str, no: str, clock: Clock):
    """Issue command on the permit as the person most likely to be allowed to."""
    permit, now = load(no), clock.tick()
    step = machine.active_step(permit)
    key = step.key if step else "start"
    signer = machine.assignees(step)[0] if step else permit.applicant
    ticks = list(template.get(permit.work_type).step(key).checklist)
    calls = {
        "edit": lambda: edit_draft(no, by=permit.applicant, content="DN100 管线法兰更换", now=now),
        "submit": lambda: submit(no, by=permit.applicant, now=now),
        "sign": lambda: sign(no, key, by=signer, ticks=ticks, now=now),
        "reject": lambda: reject(no, key, by=signer, reason="措施不全", now=now),
        "return": lambda: return_for_revision(no, key, by=signer, reason="补充措施", now=now),
        "cancel": lambda: cancel(no, by=permit.applicant, reason="计划调整", now=now),
        "record_gas": lambda: record_gas(no, by=who("chenjian"), values=PASSING_GAS, now=now),
        "check_in": lambda: check_in(no, by=who("wuhai"), now=now),
        "check_out": lambda: (check_in(no, by=who("chuwei"), now=now),
                              check_out(no, by=who("chuwei"), now=now + MINUTE)),
        "attach": lambda: attach(no, by=permit.applicant, kind="现场", data=b"photo", filename="a.jpg",
                                 now=now),
        "suspend": lambda: suspend(no, by=who("chuwei"), reason="风力加大", now=now),
        "resume": lambda: resume(no, by=who("chuwei"), now=now),
        "reject_acceptance": lambda: reject_acceptance(no, by=who("yangshou"), reason="现场未清理",
                                                       deadline=now + HOUR, now=now),
        "rectified": lambda: rectified(no, by=who("jianghan"), now=now),
        "request_change": lambda: request_change(no, by=permit.applicant, reason="提前完工",
                                                 changes={"planned_end": permit.planned_end - HOUR},
                                                 now=now),
        "decide_change": lambda: decide(
            ChangeRequest.create(permit=permit, requested_by=permit.applicant, reason="延期", from_step="approve_unit",
                                 prior_state=permit.state, changes={}, route=["approve_unit"], decisions=[]).id,
            by=who("wuhai"), approve=False, reason="不同意", now=now),
        "reissue_code": lambda: reissue(no, by=permit.applicant, now=now),
        "expire": lambda: expire(no, now=permit.planned_end),
        # The timers fall due a day later (still inside the permit's validity for these tests).
        "remind": lambda: deadlines.remind(no, step.id if step else 0, now=now + 6 * HOUR),
        "escalate": lambda: deadlines.escalate(no, step.id if step else 0, now=now + 6 * HOUR),
        "retest": lambda: deadlines.retest(no, now=now + 6 * HOUR),
        "remind_reading": lambda: running.reading_check(no, now=now + 6 * HOUR),
        "chase_rectification": lambda: rectification.chase(no, now=now + 6 * HOUR),
        "bind_sensor": lambda: watch.bind(no, "GD-0012", by=who("chenjian"), now=now),
        "unbind_sensor": lambda: watch.unbind(no, "GD-0012", by=who("chenjian"), now=now),
        "isolate": lambda: points.register(no, tag="V-101", method="关阀上锁", lock_no="L-01",
                                           by=who("zhuyan"), now=now),
        "handover": lambda: handover.request(no, "weidong", by=who("chuwei"), now=now),
        "handover_confirm": lambda: handover.confirm(
            Handover.create(permit=load(no), role="监护人", outgoing=who("chuwei"), incoming=who("weidong"),
                            requested_at=now).id, by=who("chuwei"), now=now),
    }
    return calls[command]()


def test_every_state_and_command_is_covered():
    assert set(STATES) == set(LABELS)
    assert all(states <= set(STATES) for states in COMMANDS.values())


# Where a command leads from a state that accepts it, as attempt() issues it on the sample permit;
# a pair not listed leaves the state as it was.
LEADS_TO = {
    ("draft", "submit"): "in_approval", ("draft", "cancel"): "cancelled",
    ("in_approval", "reject"): "rejected", ("in_approval", "return"): "draft",
    ("in_approval", "cancel"): "cancelled", ("in_approval", "expire"): "expired",
    ("issued", "cancel"): "cancelled", ("issued", "expire"): "expired",
    ("in_progress", "sign"): "completed", ("in_progress", "suspend"): "suspended",
    ("in_progress", "check_out"): "suspended", ("in_progress", "expire"): "expired",
    ("suspended", "resume"): "in_progress", ("suspended", "cancel"): "cancelled",
    ("suspended", "expire"): "expired",
    ("completed", "sign"): "accepted", ("completed", "reject_acceptance"): "rectifying",
    ("rectifying", "rectified"): "completed", ("accepted", "sign"): "closed",
}
NO_DETECTOR = (NotFound, "没有编号为 GD-0012 的检测仪")   # the sample plant registers no detector
# The state accepts the command, yet the sample permit is refused it by a rule of its own.
REFUSED_BY_A_RULE = {
    ("in_approval", "sign"): (GateNotMet, "请先到现场扫码签到（签到 30 分钟内有效），再审批"),
    ("issued", "sign"): (GateNotMet, "最近一次合格的气体分析在 69 分钟前，超过 30 分钟，请重新检测"),
    # Hot work's completion and acceptance each need a photo of the finished site, taken since the start.
    ("in_progress", "sign"): (GateNotMet, "缺少开工后拍摄的现场照片：完工现场。请发送“照片 DH-20261124-0001 完工现场”，再发送照片"),
    ("completed", "sign"): (GateNotMet, "缺少开工后拍摄的现场照片：验收现场。请发送“照片 DH-20261124-0001 验收现场”，再发送照片"),
    ("in_progress", "escalate"): (NothingDue, "no escalation due"),
    ("in_progress", "remind_reading"): (NothingDue, "no reading interval"),   # hot work logs no 2-hourly reading
    **{(state, command): NO_DETECTOR for state in ("in_approval", "issued", "in_progress", "suspended")
       for command in ("bind_sensor", "unbind_sensor")},
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("state", STATES)
def test_command_is_refused_exactly_outside_its_states(plant, state, command):
    no, clock = permit_in(state)
    before = footprint(no)
    if (state, command) in REFUSED_BY_A_RULE:
        error, message = REFUSED_BY_A_RULE[state, command]
        with pytest.raises(WorkflowError) as refused:
            attempt(command, no, clock)
        assert (type(refused.value), refused.value.message) == (error, message)
        assert footprint(no) == before
    elif state in COMMANDS[command]:
        attempt(command, no, clock)
        assert load(no).state == LEADS_TO.get((state, command), state)
    else:
        # attempt() checks in before it checks out; the check-in is what the state refuses.
        issued = "check_in" if command == "check_out" else command
        with pytest.raises(InvalidTransition) as refused:
            attempt(command, no, clock)
        assert refused.value.message == f"作业票 {no} 当前状态为“{LABELS[state]}”，不能{COMMAND_LABELS[issued]}"
        assert (refused.value.command, refused.value.state) == (issued, state)
        assert footprint(no) == before


# --- reject, return, cancel ------------------------------------------------------------------

def test_reject_at_an_approval_step_is_final_and_tells_the_applicant(plant):
    no, clock = permit_in("in_approval")
    out = reject(no, "approve_unit", by=who("wuhai"), reason="措施不全", now=clock.tick())
    assert out.state == "rejected"
    assert step_states(no)["approve_unit"] == "void"
    # The rejecter's own card and the other 或签 approver's both show how the step ended.
    assert told(out) == outbox(no) == {("zhuyan", "info"), ("shiwen", "outcome"), ("wuhai", "outcome")}
    assert signatures(no, "approve_unit") == [(1, "wuhai", "reject")]
    event = last_event(no)
    assert (event.action, event.data["decision"], event.data["comment"]) == ("reject", "reject", "措施不全")
    with pytest.raises(InvalidTransition, match="已驳回"):
        submit(no, by=who("zhuyan"), now=clock.tick())


def test_reject_needs_a_reason_and_an_assignee(plant):
    no, clock = permit_in("in_approval")
    before = footprint(no)
    with pytest.raises(InvalidPermit, match="理由"):
        reject(no, "approve_unit", by=who("wuhai"), reason=" ", now=clock.tick())
    with pytest.raises(NotAuthorized, match="吴海"):
        reject(no, "approve_unit", by=who("qiananping"), reason="不同意", now=clock.tick())
    assert footprint(no) == before


def test_return_edit_and_resubmit_start_over_in_a_new_round(plant):
    no, clock = permit_in("in_approval")
    applicant = who("zhuyan")
    out = return_for_revision(no, "approve_unit", by=who("shiwen"), reason="补充隔离措施", now=clock.tick())
    assert out.state == "draft"
    assert told(out) == outbox(no) == {("zhuyan", "info"), ("wuhai", "outcome"), ("shiwen", "outcome")}
    assert set(step_states(no).values()) == {"pending"}

    with pytest.raises(NotAuthorized, match="申请人"):
        edit_draft(no, by=who("wuhai"), content="改", now=clock.tick())
    edit_draft(no, by=applicant, content="DN100 管线法兰焊接，加装盲板隔离", now=clock.tick())
    assert last_event(no).data["fields"] == ["content"]

    out = submit(no, by=applicant, now=clock.tick())
    assert out.state == "in_approval"
    assert told(out) == {("zhengji", "act")}
    plan = Step.get((Step.permit == load(no)) & (Step.key == "plan"))
    assert (plan.state, plan.round) == ("active", 2)
    go_to(no, clock, "approve")
    assert signatures(no, "plan") == [(1, "zhengji", "confirm"), (2, "zhengji", "confirm")]
    assert signatures(no, "approve_unit") == [(1, "shiwen", "return")]
    assert Step.get((Step.permit == load(no)) & (Step.key == "approve_unit")).round == 2
    assert audit.verify().ok


def test_only_the_applicant_may_cancel_before_the_start(plant):
    no, clock = permit_in("issued")
    before = footprint(no)
    with pytest.raises(NotAuthorized, match="朱岩"):
        cancel(no, by=who("wuhai"), reason="不做了", now=clock.tick())
    assert footprint(no) == before
    out = cancel(no, by=who("zhuyan"), reason="装置开车，检修推迟", now=clock.tick())
    assert out.state == "cancelled"
    assert step_states(no)["start"] == "void"
    assert told(out) == outbox(no) == {("jianghan", "info"), ("shenli", "info"), ("chuwei", "info")}
    assert last_event(no).data["reason"] == "装置开车，检修推迟"


# --- suspend and resume ----------------------------------------------------------------------

@pytest.mark.parametrize("by", ["chuwei", None])
def test_suspend_tells_crew_and_guardian_to_stop(plant, by):
    no, clock = permit_in("in_progress")
    out = suspend(no, by=who(by) if by else None, reason="风力加大", now=clock.tick())
    assert out.state == "suspended"
    assert told(out) == outbox(no) == CREW_STOP | {("zhuyan", "info"), ("wuhai", "info"),
                                                   ("qiananping", "info")}
    assert all("立即停止作业" in n.text for n in out.notifications if n.kind == "stop")
    event = last_event(no)
    assert event.action == "suspend" and event.data["reason"] == "风力加大"
    assert event.actor == ("系统" if by is None else who(by).label())
    assert load(no).suspended_at == clock.now


def test_suspend_by_someone_unrelated_is_refused(plant):
    no, clock = permit_in("in_progress")
    with pytest.raises(NotAuthorized):
        suspend(no, by=who("luodian"), reason="看着不安全", now=clock.tick())
    assert load(no).state == "in_progress"


def test_only_a_guardian_may_resume(plant):
    no, clock = permit_in("suspended")
    before = footprint(no)
    for account in ("jianghan", "zhuyan", "wuhai"):
        with pytest.raises(NotAuthorized, match="监护人"):
            resume(no, by=who(account), now=clock.tick())
    assert footprint(no) == before
    out = resume(no, by=who("chuwei"), now=clock.tick())
    assert out.state == "in_progress" and load(no).suspended_at is None
    assert told(out) == {("jianghan", "info"), ("shenli", "info"), ("chuwei", "info")}


# --- acceptance refused, rectified, accepted -------------------------------------------------

def test_rectification_loop_ends_in_close(plant):
    no, clock = permit_in("completed")
    deadline = clock.now + 2 * HOUR
    with pytest.raises(InvalidPermit, match="整改期限"):
        reject_acceptance(no, by=who("yangshou"), reason="现场未清理", deadline=clock.now, now=clock.now)
    out = reject_acceptance(no, by=who("yangshou"), reason="现场未清理", deadline=deadline, now=clock.tick())
    assert out.state == "rectifying" and load(no).rectify_deadline == deadline
    assert step_states(no)["accept"] == "pending"
    assert told(out) == {("jianghan", "info"), ("shenli", "info"), ("chuwei", "info"), ("zhuyan", "info"),
                         ("yangshou", "outcome")}

    with pytest.raises(NotAuthorized):
        rectified(no, by=who("wuhai"), now=clock.tick())
    out = rectified(no, by=who("jianghan"), note="已清理", now=clock.tick())
    assert out.state == "completed" and load(no).rectify_deadline is None
    assert told(out) == {("yangshou", "act")}

    # The acceptance asks for a photo of the finished site, here of the site as rectified.
    attach(no, by=load(no).applicant, kind="验收现场", data=b"photo", filename="accept.jpg", now=clock.tick())
    accept(no, by=who("yangshou"), now=clock.tick())
    assert close(no, by=who("wuhai"), now=clock.tick()).state == "closed"
    assert signatures(no, "accept") == [(1, "yangshou", "rectify"), (2, "yangshou", "approve")]
    assert audit.verify().ok


def test_a_photo_of_the_finished_site_sent_before_the_start_counts_for_neither_completion_nor_acceptance(plant):
    no, clock = permit_in("issued")
    for kind in ("完工现场", "验收现场"):   # sent ahead: it cannot show the work done
        attach(no, by=load(no).applicant, kind=kind, data=f"{kind} before the work".encode(), filename="early.jpg",
               now=clock.tick())
    go_to(no, clock, "work")
    with pytest.raises(GateNotMet, match="缺少开工后拍摄的现场照片：完工现场"):
        attempt("sign", no, clock)
    attach(no, by=load(no).applicant, kind="完工现场", data=b"the finished site", filename="done.jpg",
           now=clock.tick())
    attempt("sign", no, clock)
    assert load(no).state == "completed"
    with pytest.raises(GateNotMet, match="缺少开工后拍摄的现场照片：验收现场"):
        attempt("sign", no, clock)
    assert load(no).state == "completed"


# --- change requests ---------------------------------------------------------------------------

def change_of(no: str) -> ChangeRequest:
    return ChangeRequest.get(ChangeRequest.permit == load(no))


def asked(change: ChangeRequest) -> list[str]:
    """Return who was sent the change's card at its current stage."""
    return sorted(r.person.account for r in Outbox.select().where(Outbox.kind == "change")
                  if r.payload["change"] == change.id and r.payload["side"] == str(change.stage))


def approve_change(no: str, clock: Clock, *accounts: str):
    """Approve the change as the accounts given, or, with none, as the first one asked at each stage."""
    out = None
    for account in accounts or iter(lambda: asked(change_of(no))[0], None):
        out = decide(change_of(no).id, by=who(account), approve=True, now=clock.tick())
        if change_of(no).state != "pending":
            break
    return out


@pytest.mark.parametrize("state", ["issued", "in_progress"])
def test_extension_waits_beside_the_running_permit_and_applies_when_both_levels_agree(plant, state):
    no, clock = permit_in(state, hours=4)
    old_end, version = load(no).planned_end, load(no).version
    out = request_change(no, by=who("zhuyan"), changes={"planned_end": old_end + 2 * HOUR},
                         reason="焊口返修", now=clock.tick())
    # The permit is untouched and keeps running; only the first approval level is asked.
    permit = load(no)
    assert (out.state, permit.state, permit.planned_end, permit.version) == (state, state, old_end, version)
    assert "审批通过前按原作业票执行" in out.detail
    change = change_of(no)
    first = Step.get((Step.permit == load(no)) & (Step.key == "approve_unit"))
    assert asked(change) == sorted(p.account for p in machine.assignees(first))
    assert change.changes == {"planned_end": [old_end.isoformat(), (old_end + 2 * HOUR).isoformat()]}
    assert (change.state, change.route, change.stage, change.prior_state) == (
        "pending", ["approve_unit", "approve_safety"], 0, state)
    with pytest.raises(NotAuthorized, match="不是本次变更“.*”的审批人"):
        decide(change.id, by=who("jianghan"), approve=True, now=clock.tick())

    assert decide(change.id, by=who(asked(change)[0]), approve=True, now=clock.tick()).detail.startswith("已同意，转")
    assert load(no).planned_end == old_end
    out = approve_change(no, clock)
    permit = load(no)
    assert (permit.state, permit.planned_end, permit.version) == (state, old_end + 2 * HOUR, version + 1)
    change = change_of(no)
    assert (change.state, change.decided_at) == ("approved", clock.now)
    assert [(d["step"], d["decision"]) for d in change.decisions] == [("approve_unit", "approve"),
                                                                      ("approve_safety", "approve")]
    assert {("zhuyan", "info"), ("jianghan", "info"), ("chuwei", "info")} <= told(out)
    assert step_states(no)[{"issued": "start", "in_progress": "complete"}[state]] == "active"
    assert audit.verify().ok


def test_a_refused_extension_leaves_the_permit_valid_until_its_original_end(plant):
    no, clock = permit_in("in_progress", hours=4)
    old_end, version = load(no).planned_end, load(no).version
    request_change(no, by=who("zhuyan"), changes={"planned_end": old_end + 2 * HOUR}, reason="焊口返修",
                   now=clock.tick())
    decide(change_of(no).id, by=who(asked(change_of(no))[0]), approve=True, now=clock.tick())
    second = who(asked(change_of(no))[0])
    with pytest.raises(InvalidPermit, match="请填写不同意的理由"):
        decide(change_of(no).id, by=second, approve=False, reason=" ", now=clock.tick())
    out = decide(change_of(no).id, by=second, approve=False, reason="焊口另行安排", now=clock.tick())
    permit = load(no)
    assert (out.state, permit.state, permit.planned_end, permit.version) == ("in_progress", "in_progress",
                                                                               old_end, version)
    assert change_of(no).state == "rejected"
    assert ("zhuyan", "info") in told(out)
    with pytest.raises(AlreadySigned, match="本次变更已未同意"):
        decide(change_of(no).id, by=second, approve=True, now=clock.tick())
    # The work goes on until the original end, and then expires as it always would have.
    with pytest.raises(InvalidTransition, match="尚未到期"):
        expire(no, now=old_end - timedelta(seconds=1))
    assert expire(no, now=old_end).state == "expired"
    assert audit.verify().ok


def test_crew_change_applies_only_when_approved_and_stops_the_removed_worker(plant):
    no, clock = permit_in("in_progress")
    new_crew = [who("jianghan"), who("weidong")]
    out = request_change(no, by=who("zhuyan"), changes={"crew": new_crew}, reason="沈力调岗",
                         now=clock.tick())
    assert out.state == "in_progress"
    crew = lambda: {m.person.account for m in PermitMember.select().where(  # noqa: E731
        (PermitMember.permit == load(no)) & (PermitMember.role == "作业人"))}
    assert crew() == {"jianghan", "shenli"}
    change = change_of(no)
    assert change.changes["crew"] == [[who("jianghan").id, who("shenli").id], [p.id for p in new_crew]]
    with pytest.raises(InvalidPermit, match="已有一项变更待审批"):
        request_change(no, by=who("zhuyan"), changes={"guardians": [who("weidong")]}, reason="再换",
                       now=clock.tick())
    out = approve_change(no, clock)
    assert crew() == {"jianghan", "weidong"}
    assert ("shenli", "stop") in told(out) and ("weidong", "info") in told(out)
    assert load(no).state == "in_progress"


def test_applicant_cannot_approve_their_own_change_and_a_pending_change_ends_with_the_permit(plant):
    no, clock = permit_in("issued")
    request_change(no, by=who("zhuyan"), changes={"measures": ["加设防火毯"]}, reason="补充措施",
                   now=clock.tick())
    with pytest.raises(NotAuthorized, match="申请人不能审批自己的变更"):
        decide(change_of(no).id, by=who("zhuyan"), approve=True, now=clock.tick())
    cancel(no, by=who("zhuyan"), reason="计划调整", now=clock.tick())
    assert change_of(no).state == "void"


def test_extend_is_a_change_of_the_planned_end(plant):
    no, clock = permit_in("in_progress", hours=4)
    new_end = load(no).planned_end + HOUR
    assert extend(no, by=who("zhuyan"), new_end=new_end, reason="焊口返修", now=clock.tick()).state == "in_progress"
    change = change_of(no)
    assert (change.from_step, change.changes["planned_end"][1]) == ("approve_unit", new_end.isoformat())


def test_change_after_the_validity_ended_is_refused(plant):
    no, clock = permit_in("in_progress")
    end = load(no).planned_end
    before = footprint(no)
    with pytest.raises(InvalidTransition, match="GB 30871-2022"):
        request_change(no, by=who("zhuyan"), changes={"planned_end": end + HOUR}, reason="延期", now=end)
    assert footprint(no) == before
    assert ChangeRequest.select().count() == 0


def test_change_that_raises_the_grade_is_refused(plant):
    # 二级, 12:00–16:00 local; to 19:00 reaches into the night (from 18:00): it would become 一级.
    no, clock = permit_in("in_progress", start=MORNING + 4 * HOUR, hours=4, grade="二级")
    assert load(no).grade == "二级"
    before = footprint(no)
    with pytest.raises(InvalidPermit, match="由二级变为一级.*重新办理"):
        request_change(no, by=who("zhuyan"), changes={"planned_end": load(no).planned_end + 3 * HOUR},
                       reason="延长到晚上", now=clock.tick())
    assert footprint(no) == before
    assert ChangeRequest.select().count() == 0


def test_content_change_needs_a_new_permit(plant):
    no, clock = permit_in("issued")
    with pytest.raises(InvalidPermit, match="重新办理"):
        request_change(no, by=who("zhuyan"), changes={"location": "2#罐区"}, reason="换地方", now=clock.tick())
    assert load(no).state == "issued"


# --- expiry ----------------------------------------------------------------------------------

def test_expire_is_refused_before_the_planned_end(plant):
    no, clock = permit_in("in_progress")
    with pytest.raises(InvalidTransition, match="尚未到期"):
        expire(no, now=load(no).planned_end - timedelta(seconds=1))
    out = expire(no, now=load(no).planned_end)
    assert out.state == "expired"
    # Work still running past its end is flagged to the unit's heads as well.
    assert told(out) == outbox(no) == CREW_STOP | {("zhuyan", "info"), ("wuhai", "info"), ("shiwen", "info")}
    assert step_states(no)["complete"] == "void"


def test_expire_due_expires_exactly_the_due_permits(plant):
    due_running, _ = permit_in("in_progress", hours=4)
    due_waiting, _ = permit_in("in_approval", hours=4)
    later, _ = permit_in("in_progress", hours=8)
    old_draft, _ = permit_in("draft", hours=4)
    now = MORNING + 4 * HOUR
    outcomes = expire_due(now)
    assert {o.permit_no for o in outcomes} == {due_running, due_waiting}
    states = [load(no).state for no in (due_running, due_waiting, later, old_draft)]
    assert states == ["expired", "expired", "in_progress", "draft"]
    running = next(o for o in outcomes if o.permit_no == due_running)
    waiting = next(o for o in outcomes if o.permit_no == due_waiting)
    assert told(running) == CREW_STOP | {("zhuyan", "info"), ("wuhai", "info"), ("shiwen", "info")}
    assert {kind for _, kind in told(waiting)} == {"info"}
    assert expire_due(now) == []


# --- facts recorded without a new version ----------------------------------------------------

def test_attach_stores_each_content_once_by_its_hash(plant, instance):
    no, clock = permit_in("issued")
    version = load(no).version
    data = b"\xff\xd8 fire extinguisher photo"
    digest = hashlib.sha256(data).hexdigest()
    first = attach(no, by=who("zhuyan"), kind="灭火器", data=data, filename="IMG_1.JPG", now=clock.tick())
    second = attach(no, by=who("chuwei"), kind="灭火器", data=data, filename="again.jpg", now=clock.tick())
    assert first.version == second.version == version
    stored = instance / "attachments" / digest[:2] / f"{digest}.jpg"
    assert stored.read_bytes() == data
    assert [p for p in (instance / "attachments").rglob("*") if p.is_file()] == [stored]
    rows = Attachment.select().where(Attachment.permit == load(no))
    assert [(a.sha256, a.path, a.filename) for a in rows.order_by(Attachment.id)] == [
        (digest, str(stored.relative_to(instance)), "IMG_1.JPG"),
        (digest, str(stored.relative_to(instance)), "again.jpg")]
    assert last_event(no).data["sha256"] == digest
    with pytest.raises(NotAuthorized):
        attach(no, by=who("luodian"), kind="灭火器", data=data, filename="x.jpg", now=clock.tick())


def test_check_in_is_audited_but_keeps_the_version(plant):
    no, clock = permit_in("in_approval")
    version = load(no).version
    out = check_in(no, by=who("wuhai"), source="qr", now=clock.tick())
    assert out.version == load(no).version == version
    assert (last_event(no).action, last_event(no).data["source"]) == ("check_in", "qr")


# --- stale cards -----------------------------------------------------------------------------

def test_signing_from_a_stale_card_is_refused(plant):
    no, clock = permit_in("draft")
    submit(no, by=who("zhuyan"), now=clock.tick())
    go_to(no, clock, "briefing_ack")
    card = load(no).version      # 会签: every worker and the guardian got this card
    sign(no, "briefing_ack", by=who("jianghan"), expected_version=card, now=clock.tick())
    before = footprint(no)
    with pytest.raises(StaleVersion, match="最新卡片"):
        sign(no, "briefing_ack", by=who("shenli"), expected_version=card, now=clock.tick())
    assert footprint(no) == before
    sign(no, "briefing_ack", by=who("shenli"), expected_version=card + 1, now=clock.tick())


def test_a_settled_or_step_names_who_signed(plant):
    no, clock = permit_in("in_approval")
    card = load(no).version
    check_in(no, by=who("wuhai"), now=clock.tick())
    sign(no, "approve_unit", by=who("wuhai"), expected_version=card, now=clock.tick())
    with pytest.raises(AlreadySigned, match="吴海"):
        sign(no, "approve_unit", by=who("shiwen"), expected_version=card, now=clock.tick())
    with pytest.raises(GateNotMet, match="签到"):
        sign(no, "approve_safety", by=who("qiananping"), now=clock.tick())


def test_the_reading_that_completes_the_gas_step_is_on_the_audit_trail(plant):
    no, clock = permit_in("draft")
    submit(no, by=who("zhuyan"), now=clock.tick())
    go_to(no, clock, "gas")
    record_gas(no, by=who("chenjian"), values=PASSING_GAS, now=clock.tick())
    event = last_event(no)
    assert event.data["step"] == "gas" and event.data["passed"] is True
    assert event.data["values"]["O2"] == PASSING_GAS["O2"]


def test_a_countersignature_leaves_the_other_signers_cards_open(plant):
    no, clock = permit_in("draft")
    submit(no, by=who("zhuyan"), now=clock.tick())
    go_to(no, clock, "briefing_ack")
    first = sign(no, "briefing_ack", by=who("jianghan"), now=clock.tick())
    # Only the signer's own card is settled; the others still have to sign on theirs.
    assert {(a, k) for a, k in told(first) if k == "outcome"} == {("jianghan", "outcome")}
    sign(no, "briefing_ack", by=who("shenli"), now=clock.tick())
    last = sign(no, "briefing_ack", by=who("chuwei"), now=clock.tick())
    assert {(a, k) for a, k in told(last) if k == "outcome"} == {
        ("jianghan", "outcome"), ("shenli", "outcome"), ("chuwei", "outcome")}
