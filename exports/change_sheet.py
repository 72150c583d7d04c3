"""变更记录: one row per change request begun in the period, with who decided it and when."""
from __future__ import annotations

from models import ChangeRequest
from workflow import changes

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

CHANGES = "变更记录"
TIME = 19
CHANGE_COLUMNS = (
    Column("作业票编号", 19), Column("申请人", 9), Column("申请时间", TIME), Column("变更内容", 50),
    Column("变更理由", 24), Column("状态", 8), Column("审批记录", 50), Column("办结时间", TIME),
)
DECISIONS = {"approve": "同意", "reject": "不同意"}


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the sheet of the change requests made in the scope's period."""
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, CHANGES, CHANGE_COLUMNS, title=f"{CHANGES}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), freeze_columns=1,
                  empty_note="本期间没有作业变更")
    for row in (ChangeRequest.select().where((ChangeRequest.created_at >= start) & (ChangeRequest.created_at < end))
                .order_by(ChangeRequest.id)):
        said = [f"{d['name']} {DECISIONS[d['decision']]}" + (f"（{d['comment']}）" if d["comment"] else "")
                for d in row.decisions or []]
        sheet.append([row.permit.no, row.requested_by.name, run.clock(row.created_at),
                      "；".join(f"{k}：{v}" for k, v in changes.describe(row, run.tz)), row.reason,
                      changes.STATE_LABELS.get(row.state, row.state), "；".join(said),
                      run.clock(row.decided_at)])
    return {CHANGES: sheet.finish()}
