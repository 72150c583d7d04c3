"""Plain-text views of a permit and of a person's to-do list, for the CLI and chat replies."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from models import GasReading, Person, Signature, Step, StepAssignee, utcnow
from models.permit import Permit
from workflow import template as templates
from workflow.clock import local
from workflow.machine import DECISION_LABELS, assignees
from workflow.states import LABELS

STEP_LABELS = {"pending": "未开始", "active": "办理中", "done": "已完成", "skipped": "不适用",
               "void": "已作废"}


def _waited(minutes: float) -> str:
    minutes = int(minutes)
    return f"{minutes // 60} 小时 {minutes % 60} 分" if minutes >= 60 else f"{minutes} 分钟"


def describe(permit: Permit, tz: ZoneInfo) -> str:
    """Return the permit's content, steps with signatures, and gas readings as text."""
    t = templates.get(permit.work_type)
    fmt = lambda moment: f"{local(moment, tz):%Y-%m-%d %H:%M}" if moment else "—"  # noqa: E731
    lines = [
        f"{permit.no} {t.name} {permit.grade or ''}  【{LABELS[permit.state]}】",
        f"地点：{permit.location}", f"内容：{permit.content}",
        f"时间：{fmt(permit.planned_start)} 至 {fmt(permit.planned_end)}",
        f"申请人：{permit.applicant.name}  所属单位：{permit.unit.name}",
    ]
    for role in ("作业人", "监护人"):
        names = "、".join(m.person.name for m in permit.members if m.role == role)
        lines.append(f"{role}：{names or '—'}")
    if permit.medium:
        lines.append(f"介质：{permit.medium}")
    lines.append("步骤：")
    for step in Step.select().where(Step.permit == permit).order_by(Step.seq):
        signed = [f"{s.person.name}{DECISION_LABELS.get(s.decision, s.decision)}于{fmt(s.signed_at)[5:]}"
                  for s in Signature.select().where((Signature.step == step) & (Signature.round == step.round))]
        who = "、".join(p.name for p in assignees(step)) if step.state == "active" else ""
        lines.append(f"  {step.seq:>2}. {step.name}：{STEP_LABELS[step.state]}"
                     + (f"（待 {who}）" if who else "") + (f" {'；'.join(signed)}" if signed else ""))
    readings = list(GasReading.select().where(GasReading.permit == permit)
                    .order_by(GasReading.taken_at.desc()).limit(5))
    if readings:
        lines.append("气体检测（最近 5 次）：")
        lines += [f"  {fmt(r.taken_at)} {r.verdict.get('text', '')}" for r in readings]
    return "\n".join(lines)


def todo_lines(person: Person, tz: ZoneInfo) -> list[str]:
    """Return what waits for person, oldest first, with how long it has waited."""
    rows = (Step.select(Step, Permit).join(Permit).switch(Step).join(StepAssignee)
            .where((StepAssignee.person == person) & (StepAssignee.round == Step.round)
                   & (Step.state == "active"))
            .order_by(Step.activated_at))
    now, lines = utcnow(), []
    for step in rows:
        if Signature.select().where((Signature.step == step) & (Signature.round == step.round)
                                    & (Signature.person == person)).exists():
            continue  # signed already; waiting for the other signers of a 会签 step
        waited = (now - step.activated_at).total_seconds() / 60
        t = templates.get(step.permit.work_type)
        lines.append(f"{step.permit.no} {t.name} · {step.name}  已等待 {_waited(waited)}"
                     f"  {step.permit.location}")
    return lines
