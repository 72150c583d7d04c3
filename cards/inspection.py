"""The checklist cards of the hazard domain, where ticking an item says it fails: an inspection round's
(不符合) and a random audit's (不合格)."""
from __future__ import annotations

from datetime import datetime

import settings
from models.hazard import AUDIT_PENDING, AUDIT_STATE_NAMES, PermitAudit
from models.inspection import DONE, Inspection, InspectionPlan
from workflow import template as templates
from workflow.clock import local

from . import actions
from .card import PRIMARY, Button, Card, Field

NOTICE = ("请到现场扫描{what}作业票的二维码签到，然后勾选不符合的项目（每项登记为一条隐患）后提交；"
          "全部符合则不勾选，直接提交")


def task_id(inspection_id: int, person_id: int, serial: int | None = None) -> str:
    return f"inspection-{inspection_id}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def subject(plan: InspectionPlan) -> str:
    """Name what the plan inspects: its place, or its work type."""
    return plan.area.name if plan.area_id else templates.get(plan.work_type).name


def when(moment: datetime | None) -> str:
    return local(moment, settings.current().plant_tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _fields(row: Inspection) -> tuple[Field, ...]:
    return (Field("巡检计划", row.plan.name), Field("对象", subject(row.plan)), Field("周期", row.plan.schedule),
            Field("开始", when(row.starts_at)), Field("完成期限", when(row.due_at)))


def ask_card(inspection_id: int, *, person_id: int, serial: int | None = None) -> Card:
    """Return the round's checklist card, or its outcome once it is done."""
    row = Inspection.get_by_id(inspection_id)
    tid = task_id(inspection_id, person_id, serial)
    if row.state == DONE:
        return settled_card(inspection_id, task_id=tid)
    submit = actions.inspection_key(row.id)
    what = f"{subject(row.plan)}内" if row.plan.area_id else f"正在进行的{subject(row.plan)}"
    return Card(kind="checklist", task_id=tid, title=f"待您巡检：{row.plan.name}", subtitle=subject(row.plan),
                fields=_fields(row), buttons=(Button("提交", submit, PRIMARY),), checklist=tuple(row.items),
                checklist_key=submit, notice=NOTICE.format(what=what))


def settled_card(inspection_id: int, *, task_id: str) -> Card:
    """Return what the card becomes once the round is submitted."""
    row = Inspection.get_by_id(inspection_id)
    if row.failed:
        text = (f"{when(row.done_at)} 提交：{len(row.failed)} 项不符合，已登记隐患 {'、'.join(row.findings)}；"
                f"其余 {len(row.items) - len(row.failed)} 项符合")
    else:
        text = f"{when(row.done_at)} 提交：{len(row.items)} 项全部符合"
    return Card(kind="outcome", task_id=task_id, title=f"已巡检：{row.plan.name}", subtitle=row.plan.name,
                fields=_fields(row), buttons=(), notice=text)


AUDIT_NOTICE = ("请到现场扫描作业票二维码签到，逐项检查，勾选不合格的项目后提交（不合格项登记为隐患）；"
                "全部合格则不勾选，直接提交")


def _audit_fields(row: PermitAudit) -> tuple[Field, ...]:
    permit = row.permit
    return (Field("作业票", permit.no), Field("类型", templates.get(permit.work_type).name),
            Field("地点", permit.location), Field("抽取日期", row.draw.day.isoformat()))


def audit_card(audit_id: int, *, person_id: int, serial: int | None = None) -> Card:
    """Return the random audit's checklist card, or its outcome once recorded."""
    row = PermitAudit.get_by_id(audit_id)
    tid = f"audit-{audit_id}-p{person_id}" + (f"-n{serial}" if serial is not None else "")
    if row.state != AUDIT_PENDING:
        return audit_settled_card(audit_id, task_id=tid)
    submit = actions.audit_key(row.id)
    return Card(kind="checklist", task_id=tid, title=f"待您抽查：{row.permit.no}", subtitle=row.permit.location,
                fields=_audit_fields(row), buttons=(Button("提交", submit, PRIMARY),), checklist=tuple(row.items),
                checklist_key=submit, notice=AUDIT_NOTICE)


def audit_settled_card(audit_id: int, *, task_id: str) -> Card:
    """Return what the audit card becomes once its result is recorded (from the card or in chat)."""
    row = PermitAudit.get_by_id(audit_id)
    text = f"{when(row.done_at)} 记录：{AUDIT_STATE_NAMES[row.state]}"
    if row.finding_id:
        text += f"，第 {'、'.join(map(str, row.failed))} 项不合格，已登记隐患 {row.finding.no}"
    return Card(kind="outcome", task_id=task_id, title=f"已抽查：{row.permit.no}", subtitle=row.permit.location,
                fields=_audit_fields(row), buttons=(), notice=text)
