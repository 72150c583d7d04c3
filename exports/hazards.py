"""隐患排查治理台账: one row per finding found in the period, in the fields regulators' platforms upload;
抽查记录: one row per permit drawn for a random audit; 巡检记录: one row per inspection round."""
from __future__ import annotations

from hazards import inspections
from models import Department, Person
from models.hazard import AUDIT_STATE_NAMES, STATE_NAMES, AuditDraw, Finding, PermitAudit
from models.inspection import DONE, Inspection, InspectionPlan
from models.permit import Permit
from workflow import template as templates

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

FINDINGS = "隐患排查治理台账"
TIME = 19
# The first ten are the usual 隐患 upload fields, in their order, so an admin can map them one to one.
FINDING_COLUMNS = (
    Column("编号", 19), Column("隐患名称", 40), Column("等级", 6), Column("来源", 8), Column("发现时间", TIME),
    Column("整改责任人", 10), Column("整改期限", TIME), Column("整改完成时间", TIME), Column("验收人", 9),
    Column("状态", 8), Column("地点", 14), Column("类别", 10), Column("发现人", 9), Column("责任单位", 14),
    Column("复查不通过次数", 8), Column("是否超期", 8),
)

AUDITS, ROUNDS = "抽查记录", "巡检记录"
AUDIT_COLUMNS = (
    Column("抽取日期", 12), Column("作业票编号", 19), Column("作业类型", 10), Column("作业地点", 20),
    Column("抽查人", 9), Column("结果", 8), Column("不合格项", 40), Column("说明", 24), Column("隐患编号", 19),
    Column("记录时间", TIME), Column("抽取种子", 18), Column("抽取比例", 8),
)
ROUND_COLUMNS = (
    Column("巡检计划", 20), Column("对象", 12), Column("周期", 6), Column("巡检人", 9), Column("开始", TIME),
    Column("完成期限", TIME), Column("提交时间", TIME), Column("状态", 8), Column("不符合项", 40),
    Column("隐患编号", 24), Column("现场签到", 34),
)


def _name(person: Person | None) -> str | None:
    return person.name if person is not None else None


def late(f: Finding, run: Run) -> bool | None:
    """Return whether the finding was (or still is) rectified after its deadline; None without a deadline."""
    if f.deadline is None:
        return None
    done = f.rectified_at if f.state in ("rectified", "closed") else run.now
    return done > f.deadline


def _overdue(f: Finding, run: Run) -> str:
    overdue = late(f, run)
    return "" if overdue is None else "是" if overdue else "否"


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the sheet for the findings found in the scope's period (of the scope's unit, if it names one)."""
    start, end = scope.period.bounds(run.tz)
    heading = run.heading(scope.period.label, scope.describe())
    sheet = Sheet(book, FINDINGS, FINDING_COLUMNS, title=f"{FINDINGS}（{scope.period.label}）", heading=heading,
                  freeze_columns=1, empty_note="本期间没有登记隐患")
    where = (Finding.found_at >= start) & (Finding.found_at < end)
    if scope.unit:
        where &= Finding.unit.in_(Department.select(Department.id).where(Department.code == scope.unit))
    for f in Finding.select().where(where).order_by(Finding.id):
        sheet.append([f.no, f.description, f.grade, f.source, run.clock(f.found_at), _name(f.responsible),
                      run.clock(f.deadline), run.clock(f.rectified_at), _name(f.checked_by) if f.closed_at else None,
                      STATE_NAMES[f.state], f.place, f.category, _name(f.found_by),
                      f.unit.name if f.unit else None, f.rejections, _overdue(f, run)])
    return {FINDINGS: sheet.finish(), AUDITS: _audits(book, scope, run, heading),
            ROUNDS: _rounds(book, scope, run, heading)}


def _audits(book, scope: Scope, run: Run, heading) -> int:
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, AUDITS, AUDIT_COLUMNS, title=f"{AUDITS}（{scope.period.label}）", heading=heading,
                  freeze_columns=2, empty_note="本期间没有抽中作业票")
    where = (AuditDraw.drawn_at >= start) & (AuditDraw.drawn_at < end)
    if scope.unit:
        where &= Permit.unit.in_(Department.select(Department.id).where(Department.code == scope.unit))
    rows = (PermitAudit.select(PermitAudit, AuditDraw, Permit).join(AuditDraw).switch(PermitAudit).join(Permit)
            .where(where).order_by(AuditDraw.day, Permit.no))
    for a in rows:
        failed = "；".join(f"{i}. {a.items[i - 1]}" for i in a.failed if 0 < i <= len(a.items))
        sheet.append([a.draw.day.isoformat(), a.permit.no, templates.get(a.permit.work_type).name, a.permit.location,
                      _name(a.officer), AUDIT_STATE_NAMES[a.state], failed, a.note,
                      a.finding.no if a.finding_id else None, run.clock(a.done_at), a.draw.seed, a.draw.share])
    return sheet.finish()


def _round_state(r: Inspection, run: Run) -> str:
    if r.state == DONE:
        return "超期完成" if r.done_at > r.due_at else "已完成"
    return "未完成" if run.now > r.due_at else "进行中"


def _rounds(book, scope: Scope, run: Run, heading) -> int:
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, ROUNDS, ROUND_COLUMNS, title=f"{ROUNDS}（{scope.period.label}）", heading=heading,
                  freeze_columns=1, empty_note="本期间没有巡检")
    where = (Inspection.starts_at >= start) & (Inspection.starts_at < end)
    if scope.unit:
        where &= Inspection.inspector.in_(Person.select(Person.id).join(Department)
                                          .where(Department.code == scope.unit))
    rows = (Inspection.select(Inspection, InspectionPlan).join(InspectionPlan).where(where)
            .order_by(Inspection.starts_at, InspectionPlan.name))
    for r in rows:
        plan = r.plan
        subject = plan.area.name if plan.area_id else templates.get(plan.work_type).name
        failed = "；".join(f"{i}. {r.items[i - 1]}" for i in r.failed if 0 < i <= len(r.items))
        sheet.append([plan.name, subject, plan.schedule, _name(r.inspector), run.clock(r.starts_at),
                      run.clock(r.due_at), run.clock(r.done_at), _round_state(r, run), failed,
                      "、".join(r.findings), inspections.proof(r)])
    return sheet.finish()
