"""Permit states, their Chinese labels, and every allowed move between them as one table of data.

A row says: in state `source`, command `event` leads to `dest` when the condition named `guard`
holds. The command's own code checks its guard (who may act, which gate is met); the table decides
which commands a state accepts and where they may lead. A row with dest None records a fact and
leaves the state as it is (an internal transition).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from .errors import InvalidTransition

DRAFT = "draft"
IN_APPROVAL = "in_approval"
ISSUED = "issued"            # approved, waiting for the on-site start
IN_PROGRESS = "in_progress"
SUSPENDED = "suspended"
COMPLETED = "completed"      # work done, waiting for acceptance
RECTIFYING = "rectifying"    # acceptance refused, crew rectifying against a deadline
ACCEPTED = "accepted"        # accepted, waiting for close
CLOSED = "closed"
REJECTED = "rejected"
CANCELLED = "cancelled"
EXPIRED = "expired"

LABELS = {
    DRAFT: "草稿", IN_APPROVAL: "审批中", ISSUED: "未开工", IN_PROGRESS: "作业中",
    SUSPENDED: "已暂停", COMPLETED: "待验收", RECTIFYING: "整改中", ACCEPTED: "待关闭",
    CLOSED: "已关闭", REJECTED: "已驳回", CANCELLED: "已取消", EXPIRED: "已过期",
}
STATES = tuple(LABELS)
INITIAL = DRAFT
FINAL = frozenset({CLOSED, REJECTED, CANCELLED, EXPIRED})

# The state a permit is in while a step of each phase is the active one.
PHASE_STATE = {
    "prepare": IN_APPROVAL, "gas": IN_APPROVAL, "approve": IN_APPROVAL, "start": ISSUED,
    "work": IN_PROGRESS, "accept": COMPLETED, "close": ACCEPTED,
}
PHASES = tuple(PHASE_STATE)

COMMAND_LABELS = {
    "edit": "修改草稿", "submit": "提交", "sign": "签字", "reject": "驳回", "return": "退回修改",
    "cancel": "取消", "record_gas": "气体检测", "check_in": "现场签到", "check_out": "离开现场", "reissue_code": "重发现场二维码", "attach": "上传照片",
    "suspend": "暂停作业", "resume": "恢复作业", "reject_acceptance": "验收不通过",
    "rectified": "整改完成", "request_change": "变更申请", "decide_change": "审批变更", "expire": "过期", "remind": "催办",
    "escalate": "超时上报", "retest": "提醒复测", "remind_reading": "提醒气体检测", "chase_rectification": "整改督办",
    "bind_sensor": "绑定检测仪", "unbind_sensor": "解绑检测仪",
    "isolate": "登记能量隔离", "handover": "交接班", "handover_confirm": "确认交接班",
}

# How the diagram tells apart the moves one command makes from one state.
GUARD_LABELS = {
    "next_step_before_start": "下一步骤", "approvals_done": "审批完成", "start_confirmed": "开工确认",
    "work_done": "完工", "acceptance_passed": "验收通过", "last_step_signed": "关闭",
    "countersign_pending": "会签未齐", "gas_step_passed": "合格", "reading_failed_or_alarm": "不合格或报警",
}


@dataclass(frozen=True)
class Transition:
    """One allowed move: event in source leads to dest (None: stays) when guard holds."""

    source: str
    event: str
    dest: str | None
    guard: str


class Stateful(Protocol):
    no: str
    state: str


# A step is open for signing in these states.
SIGNING = (IN_APPROVAL, ISSUED, IN_PROGRESS, COMPLETED, ACCEPTED)
# The permit is live and its site may be visited, from submission until it is closed.
ON_SITE = (IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, COMPLETED, RECTIFYING, ACCEPTED)
# Issued or on its way to being issued, and not yet finished: gas, detectors and validity matter.
LIVE = (IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED)


def _each(sources: tuple[str, ...], event: str, dest: str | None, guard: str) -> tuple[Transition, ...]:
    return tuple(Transition(s, event, dest, guard) for s in sources)


TRANSITIONS: tuple[Transition, ...] = (
    Transition(DRAFT, "edit", None, "applicant"),
    Transition(DRAFT, "submit", IN_APPROVAL, "content_valid"),
    # Signing a step opens the next one; the next step's phase decides the state (PHASE_STATE).
    Transition(IN_APPROVAL, "sign", IN_APPROVAL, "next_step_before_start"),
    Transition(IN_APPROVAL, "sign", ISSUED, "approvals_done"),
    Transition(ISSUED, "sign", IN_PROGRESS, "start_confirmed"),
    Transition(IN_PROGRESS, "sign", COMPLETED, "work_done"),
    Transition(COMPLETED, "sign", ACCEPTED, "acceptance_passed"),
    Transition(ACCEPTED, "sign", CLOSED, "last_step_signed"),
    *_each(SIGNING, "sign", None, "countersign_pending"),
    Transition(IN_APPROVAL, "reject", REJECTED, "approver_rejects"),
    Transition(IN_APPROVAL, "return", DRAFT, "not_yet_issued"),
    *_each((DRAFT, IN_APPROVAL, ISSUED, SUSPENDED), "cancel", CANCELLED, "applicant"),
    Transition(IN_APPROVAL, "record_gas", IN_APPROVAL, "gas_step_passed"),
    Transition(IN_PROGRESS, "record_gas", SUSPENDED, "reading_failed_or_alarm"),
    *_each(LIVE, "record_gas", None, "reading_recorded"),
    Transition(IN_PROGRESS, "suspend", SUSPENDED, "involved_or_safety_role"),
    Transition(SUSPENDED, "resume", IN_PROGRESS, "guardian_on_site_gas_fresh"),
    Transition(COMPLETED, "reject_acceptance", RECTIFYING, "acceptor_sets_deadline"),
    Transition(RECTIFYING, "rectified", COMPLETED, "crew_reports_done"),
    # A change is approved beside the permit, which runs on unchanged until the change is approved.
    *_each((ISSUED, IN_PROGRESS, SUSPENDED), "request_change", None, "applicant_within_validity"),
    *_each((ISSUED, IN_PROGRESS, SUSPENDED), "decide_change", None, "approver_of_the_change"),
    *_each(LIVE, "expire", EXPIRED, "past_planned_end"),
    *_each(ON_SITE, "check_in", None, "scan_on_site"),
    *_each(ON_SITE, "check_out", None, "checked_in"),
    *_each(ON_SITE, "reissue_code", None, "applicant_or_safety_officer"),
    *_each((DRAFT, IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, COMPLETED, RECTIFYING), "attach", None,
           "involved"),
    *_each(SIGNING, "remind", None, "reminder_due"),
    *_each(SIGNING, "escalate", None, "escalation_due"),
    Transition(SUSPENDED, "retest", None, "retest_due"),
    Transition(IN_PROGRESS, "remind_reading", None, "reading_due_soon"),
    Transition(RECTIFYING, "chase_rectification", None, "rectify_deadline_passed"),
    *_each(LIVE, "bind_sensor", None, "detector_free"),
    *_each(LIVE, "unbind_sensor", None, "detector_bound"),
    # Isolation comes before the permit is issued to work: points are added until the start.
    *_each((DRAFT, IN_APPROVAL, ISSUED), "isolate", None, "involved"),
    # A guardian or work leader hands over only while the job is under way or about to be.
    *_each((ISSUED, IN_PROGRESS, SUSPENDED), "handover", None, "leader_or_guardian"),
    *_each((ISSUED, IN_PROGRESS, SUSPENDED), "handover_confirm", None, "outgoing_then_incoming_on_site"),
)


def _sources() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in TRANSITIONS:
        found[row.event].add(row.source)
    return {event: frozenset(sources) for event, sources in found.items()}


# Which states each command may start from; anything else is an InvalidTransition.
COMMANDS: dict[str, frozenset[str]] = _sources()


def allowed(state: str, event: str) -> bool:
    """Return whether the table has a row for event in state."""
    return state in COMMANDS.get(event, ())


def leads(source: str, event: str, dest: str) -> bool:
    """Return whether the table lets event move a permit from source to dest."""
    return any(r.source == source and r.event == event and r.dest == dest for r in TRANSITIONS)


def check(permit: Stateful, event: str) -> None:
    """Refuse event unless the permit's state accepts it."""
    if not allowed(permit.state, event):
        raise InvalidTransition(f"作业票 {permit.no} 当前状态为“{LABELS[permit.state]}”，"
                                f"不能{COMMAND_LABELS.get(event, event)}",
                                command=event, state=permit.state)


def move(permit: Stateful, event: str, to: str | None = None) -> Transition:
    """Move the permit by event to `to` (or to the one destination the table gives); refuse any other move."""
    check(permit, event)
    rows = [r for r in TRANSITIONS if r.source == permit.state and r.event == event
            and r.dest is not None and (to is None or r.dest == to)]
    if len(rows) != 1:
        where = f"“{LABELS[to]}”" if to in LABELS else "下一状态"
        raise InvalidTransition(f"作业票 {permit.no} 当前状态为“{LABELS[permit.state]}”，"
                                f"{COMMAND_LABELS.get(event, event)}不能转为{where}",
                                command=event, state=permit.state)
    permit.state = rows[0].dest
    return rows[0]


def mermaid(*, internal: bool = False) -> str:
    """Return the table as a Mermaid stateDiagram-v2; internal adds the commands that keep the state."""
    lines = ["stateDiagram-v2"]
    lines += [f'    state "{LABELS[s]}" as {s}' for s in STATES]
    lines.append(f"    [*] --> {INITIAL}")
    edges: dict[tuple[str, str], list[str]] = {}
    for row in TRANSITIONS:
        if row.dest is None and not internal:
            continue
        label = COMMAND_LABELS[row.event]
        if row.guard in GUARD_LABELS:
            label += f"（{GUARD_LABELS[row.guard]}）"
        names = edges.setdefault((row.source, row.dest or row.source), [])
        if label not in names:
            names.append(label)
    lines += [f"    {a} --> {b} : {' / '.join(names)}" for (a, b), names in edges.items()]
    lines += [f"    {s} --> [*]" for s in STATES if s in FINAL]
    return "\n".join(lines) + "\n"
