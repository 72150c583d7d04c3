"""Load the inspection-plan workbook (巡检计划): all of it in one transaction, or none of it.

One row per checklist item; a plan's rows share its 计划名称. The plan's other columns are written on
its first row and may be repeated (identically) or left empty on the rest. A plan in the database
that the workbook no longer lists stops being pushed; its rounds stay on record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.db import transaction, utcnow
from models.inspection import SCHEDULES, InspectionPlan
from models.people import NameProblem, resolve
from workflow import places, template as templates
from workflow.errors import WorkflowError

from .workbook import RowChecker, RowError, SheetRow, WorkbookError, read_sheets

PLANS = "巡检计划"
NAME, AREA, WORK_TYPE, SCHEDULE, INSPECTOR, ITEM = "计划名称", "区域", "作业类型", "周期", "巡检人", "检查项目"
COLUMNS = (NAME, AREA, WORK_TYPE, SCHEDULE, INSPECTOR, ITEM)
PLAN_COLUMNS = (AREA, WORK_TYPE, SCHEDULE, INSPECTOR)
LIMITS = {NAME: 100, AREA: 100, ITEM: 100}
MAX_ITEMS = 20   # both platforms' checklist cards hold at most 20 options (docs/dingtalk.md, docs/wecom.md)


class InspectionImportError(WorkbookError):
    """The inspection-plan workbook has errors; nothing of it was written."""

    title = "巡检计划表"


@dataclass
class _Plan:
    name: str
    first: SheetRow
    values: dict[str, str] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    item_rows: dict[str, int] = field(default_factory=dict)
    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InspectionImportReport:
    created: int
    updated: int
    stopped: int


def format_report(report: InspectionImportReport) -> str:
    """Return the report as one Chinese line."""
    return f"巡检计划：新增 {report.created}，更新 {report.updated}，停用 {report.stopped}"


def load_inspections(path: str | Path) -> InspectionImportReport:
    """Create or update the plans in the workbook at path; raise InspectionImportError if any row is wrong."""
    rows, errors = read_sheets(path, {PLANS: COLUMNS})
    if errors:
        raise InspectionImportError(errors)
    with transaction():
        checker = _Checker()
        plans = checker.check(rows[PLANS])
        if checker.errors:
            raise InspectionImportError(checker.errors)
        return _save(plans)


def _save(plans: list[_Plan]) -> InspectionImportReport:
    created = updated = 0
    now = utcnow()
    for plan in plans:
        values = dict(plan.fields, items=plan.items, active=True, updated_at=now)
        row = InspectionPlan.get_or_none(InspectionPlan.name == plan.name)
        if row is None:
            InspectionPlan.create(name=plan.name, **values)
            created += 1
        else:
            InspectionPlan.update(**values).where(InspectionPlan.id == row.id).execute()
            updated += 1
    stopped = (InspectionPlan.update(active=False, updated_at=now)
               .where(InspectionPlan.name.not_in([p.name for p in plans] or [""]) & InspectionPlan.active)
               .execute())
    return InspectionImportReport(created, updated, stopped)


class _Checker(RowChecker):
    """Check the rows against each other and against the area tree, the work types and the people."""

    def check(self, rows: list[SheetRow]) -> list[_Plan]:
        if not rows:
            self.errors.append(RowError(PLANS, None, None, "没有任何巡检计划"))
        plans: dict[str, _Plan] = {}
        for row in rows:
            self.check_lengths(row, LIMITS)
            name = row[NAME]
            if not name:
                self.error(row, NAME, "不能为空")
                continue
            plan = plans.get(name)
            if plan is None:
                plan = plans[name] = _Plan(name, row, {c: row[c] for c in PLAN_COLUMNS})
                self.plan_fields(plan)
            else:
                for column in PLAN_COLUMNS:
                    if row[column] and row[column] != plan.values[column]:
                        self.error(row, column, f"与第{plan.first.row}行（计划“{name}”的首行）的“{plan.values[column]}”"
                                                f"不一致；同一计划的后续行可留空")
            self.item(plan, row)
        for plan in plans.values():
            if len(plan.items) > MAX_ITEMS:
                self.error(plan.first, ITEM, f"计划“{plan.name}”有 {len(plan.items)} 项，一张巡检卡片最多 {MAX_ITEMS} 项，"
                                             f"请拆分为多个计划")
        return list(plans.values())

    def item(self, plan: _Plan, row: SheetRow) -> None:
        text = row[ITEM]
        if not text:
            self.error(row, ITEM, "不能为空")
        elif text in plan.item_rows:
            self.error(row, ITEM, f"“{text}”与第{plan.item_rows[text]}行重复")
        else:
            plan.item_rows[text] = row.row
            plan.items.append(text)

    def plan_fields(self, plan: _Plan) -> None:
        row, values = plan.first, plan.values
        if values[AREA] and values[WORK_TYPE]:
            self.error(row, WORK_TYPE, "区域和作业类型只能填一项：按区域巡检，或按作业类型巡检")
        elif not values[AREA] and not values[WORK_TYPE]:
            self.error(row, AREA, "请填写区域或作业类型（二选一）")
        elif values[AREA]:
            plan.fields["area"], plan.fields["work_type"] = self.area(row), ""
        else:
            plan.fields["area"], plan.fields["work_type"] = None, self.work_type(row)
        if values[SCHEDULE] not in SCHEDULES:
            self.error(row, SCHEDULE, f"未知周期“{values[SCHEDULE]}”，可选：{'、'.join(SCHEDULES)}"
                       if values[SCHEDULE] else "不能为空")
        plan.fields["schedule"] = values[SCHEDULE]
        plan.fields["inspector"] = self.inspector(row)

    def area(self, row: SheetRow):
        if not places.has_tree():
            self.error(row, AREA, "尚未导入区域表，请先导入组织架构工作簿的“区域”工作表")
            return None
        node = places.node_named(row[AREA])
        if node is None:
            near = places.suggestions(row[AREA])
            self.error(row, AREA, f"“{row[AREA]}”不是区域表中的区域" + (f"，最接近的是：{'、'.join(near)}" if near else ""))
        return node

    def work_type(self, row: SheetRow) -> str:
        try:
            return templates.get(row[WORK_TYPE]).code
        except WorkflowError as exc:
            self.error(row, WORK_TYPE, exc.message)
            return ""

    def inspector(self, row: SheetRow):
        if not row[INSPECTOR]:
            self.error(row, INSPECTOR, "不能为空")
            return None
        try:
            return resolve(row[INSPECTOR])
        except NameProblem as exc:
            self.error(row, INSPECTOR, exc.message)
            return None
