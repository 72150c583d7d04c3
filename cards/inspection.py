"""The card of one inspection round: its checklist, where ticking an item says it does not conform (不符合)."""
from __future__ import annotations

from datetime import datetime

import settings
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
