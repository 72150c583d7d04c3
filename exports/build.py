"""Build each kind of export workbook into a file: the one entry point of the CLI, chat and scheduler."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models import AuditEvent
from models.permit import Permit

from . import (audit_log, certificates, change_sheet, emergencies, hazards, ledger, lockout, meeting_sheet, records,
               report, rollups, tool_sheet, training_sheet, weights)
from .period import Period
from .run import Run
from .scope import Scope
from .sheet import new_book

KINDS = {"ledger": "作业票台账", "report": "月度作业许可分析", "audit": "审计记录", "certificates": "持证情况统计表"}


@dataclass(frozen=True)
class Built:
    """One workbook written: where, which kind and period, and how many rows each sheet holds."""

    path: Path
    kind: str
    label: str                      # the period (or permit) it covers, as people read it
    rows: dict[str, int] = field(default_factory=dict)
    summary: str = ""               # one line for a chat message, e.g. the report's score

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def filename(self) -> str:
        return self.path.name


def human_size(n: int) -> str:
    """Say a file's size as people do: 850 KB, 12.3 MB."""
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, round(n / 1024))} KB"


def file_name(kind: str, label: str) -> str:
    """Return the workbook's file name, e.g. 作业票台账_2026-11.xlsx."""
    return f"{KINDS[kind]}_{label.replace(' 至 ', '_')}.xlsx"


def build_ledger(scope: Scope, out: Path, run: Run) -> Built:
    """Write 作业票台账, 签字明细, 气体检测记录, 检测仪分钟汇总, 报警记录 and the other ledger sheets for the scope."""
    run.progress.plan(ledger.count(scope, run) + records.count_readings(scope, run)
                      + rollups.count(scope, run) + records.count_alarms(scope, run))
    book = new_book()
    rows = ledger.write(book, scope, run)
    rows[records.READINGS] = records.write_readings(book, scope, run)
    rows[rollups.ROLLUPS] = rollups.write(book, scope, run)
    rows[records.ALARMS] = records.write_alarms(book, scope, run)
    rows.update(lockout.write(book, scope, run))
    rows[emergencies.EMERGENCIES] = emergencies.write(book, scope, run)
    rows.update(change_sheet.write(book, scope, run))
    rows.update(hazards.write(book, scope, run))
    rows.update(training_sheet.write(book, scope, run))
    rows.update(tool_sheet.write(book, scope, run))
    rows.update(meeting_sheet.write(book, scope, run))
    book.save(out)
    return Built(out, "ledger", scope.period.label, rows,
                 f"作业票 {rows[ledger.LEDGER]} 张，签字 {rows[ledger.SIGNATURES]} 条，"
                 f"气体检测 {rows[records.READINGS]} 次，报警 {rows[records.ALARMS]} 次")


def build_audit(out: Path, run: Run, *, period: Period | None = None, permit_no: str | None = None) -> Built:
    """Write the audit events of one permit (any time) or of a period (all permits)."""
    if permit_no:
        if Permit.get_or_none(Permit.no == permit_no) is None and not AuditEvent.select().where(
                AuditEvent.permit_no == permit_no).exists():
            raise LookupError(f"没有编号为 {permit_no} 的作业票")
        condition, label, title = AuditEvent.permit_no == permit_no, permit_no, f"审计记录（作业票 {permit_no}）"
    else:
        start, end = period.bounds(run.tz)
        condition = (AuditEvent.created_at >= start) & (AuditEvent.created_at < end)
        label, title = period.label, f"审计记录（{period.label}）"
    run.progress.plan(AuditEvent.select().where(condition).count())
    book = new_book()
    checked = audit_log.write(book, run, title=title, period_label=label if not permit_no else "全部",
                              condition=condition)
    book.save(out)
    verdict = "校验通过" if checked.ok else f"校验未通过：{checked.first or checked.chain}"
    return Built(out, "audit", label, {audit_log.AUDIT: checked.rows}, f"审计事件 {checked.rows} 条，{verdict}")


def build_certificates(period: Period, out: Path, run: Run) -> Built:
    """Write 持证情况统计表 (无数据 while no certificate registry has registered its rows)."""
    book = new_book()
    rows = certificates.write(book, period, run)
    book.save(out)
    return Built(out, "certificates", period.label, {certificates.CERTIFICATES: rows},
                 f"持证记录 {rows} 条" if rows else f"无数据：{certificates.NOT_REGISTERED}")


def build_report(period: Period, out: Path, run: Run, items: tuple | None = None) -> Built:
    """Write 月度作业许可分析 for the period, scored with items (default: the loaded weights)."""
    items = items or weights.current()
    book = new_book()
    figures, q = report.write(book, Scope(period), run, items)
    book.save(out)
    score = f"{q:.1f} 分" if q is not None else "无数据"
    return Built(out, "report", period.label, {"作业票": figures.permits},
                 f"作业票 {figures.permits} 张，综合评价得分 Q = {score}")
