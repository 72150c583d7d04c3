"""审计记录: the audit chain of one permit or of a period, with its hashes and a verification line.

Each exported event is checked on its own: its hash recomputed from its stored content, and its
link to the event before it in the chain (which may lie outside the export). The last lines say
whether every exported event held, and what the check of the whole chain found.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from models import AuditEvent
from workflow import audit
from workflow.states import COMMAND_LABELS

from .run import PAGE, Run
from .sheet import Column, Sheet

AUDIT = "审计记录"
HASH = 66
COLUMNS = (
    Column("序号", 8), Column("时间", 19), Column("作业票编号", 19), Column("操作人", 22), Column("动作", 11),
    Column("内容", 60), Column("前一事件哈希", HASH), Column("本事件哈希", HASH), Column("本条校验", 11),
)
ACTIONS = {**COMMAND_LABELS, "create": "创建", "alarm": "气体报警", "alarm_ack": "确认报警",
           "alarm_resend": "报警重发", "refused": "拒绝办理", "export": "导出", "quiz_start": "开始考试",
           "quiz_finish": "考试交卷"}
CONTENT_CHARS = 1000     # an Excel cell holds 32 767; a snapshot-free event is far shorter
OK, CHANGED, UNLINKED = "一致", "内容被改动", "链接断开"


@dataclass(frozen=True)
class Checked:
    rows: int
    problems: int
    first: str           # the first problem, in words; "" when none
    chain: str           # the whole chain's check, in words

    @property
    def ok(self) -> bool:
        return not self.problems and self.chain.startswith("全链校验：完整")


def _events(condition) -> Iterator[list[AuditEvent]]:
    last = 0
    while True:
        page = list(AuditEvent.select().where(condition & (AuditEvent.seq > last))
                    .order_by(AuditEvent.seq).limit(PAGE))
        if not page:
            return
        yield page
        last = page[-1].seq


def _predecessors(page: list[AuditEvent], previous: AuditEvent | None) -> dict[int, str]:
    """Return the hash of the event before each one in the page, by the page event's seq."""
    known = {previous.seq: previous.hash} if previous else {}
    known.update({event.seq: event.hash for event in page})
    wanted = [event.seq - 1 for event in page if event.seq - 1 not in known and event.seq > 1]
    if wanted:
        known.update(AuditEvent.select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(wanted)).tuples())
    known[0] = audit.GENESIS
    return {event.seq: known.get(event.seq - 1) for event in page}


def _content(data) -> str:
    shown = {k: v for k, v in (data or {}).items() if k != "snapshot"} if isinstance(data, dict) else data
    text = json.dumps(shown, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= CONTENT_CHARS else text[:CONTENT_CHARS - 1] + "…"


def write(book, run: Run, *, title: str, period_label: str, condition) -> Checked:
    """Write the events matching condition, each checked, and the verification lines after them."""
    sheet = Sheet(book, AUDIT, COLUMNS, title=title, heading=run.heading(period_label),
                  empty_note="没有审计事件")
    problems, first, previous = 0, "", None
    for page in _events(condition):
        before = _predecessors(page, previous)
        for event in page:
            verdict = OK
            if not audit.intact(event):
                verdict = CHANGED
            elif before[event.seq] != event.prev_hash:
                verdict = UNLINKED
            if verdict != OK:
                problems += 1
                first = first or f"第 {event.seq} 号事件{verdict}"
            sheet.append([event.seq, run.clock(event.created_at), event.permit_no, event.actor,
                          ACTIONS.get(event.action, event.action), _content(event.data), event.prev_hash,
                          event.hash, verdict])
        run.progress.advance(len(page))
        previous = page[-1]
    rows = sheet.finish()
    chain = _chain()
    if problems:
        mine = f"本表校验：未通过。{rows} 条事件中 {problems} 条不符，{first}（重算的哈希与记录不符，或与前一事件的哈希对不上）"
    else:
        mine = f"本表校验：通过。{rows} 条事件逐条重算哈希，并与链上前一事件的哈希核对，全部一致"
    sheet.note(mine, chain)
    return Checked(rows, problems, first, chain)


def _chain() -> str:
    report = audit.verify()
    if report.ok:
        return f"全链校验：完整，共 {report.checked} 条事件，各作业票与其最后一次审计快照一致"
    broken = report.broken
    where = f"第 {broken.seq} 号事件" if broken.seq else "作业票快照"
    return f"全链校验：不完整，问题始于{where}（{report.text()}；可运行 python app.py verify-audit 复查）"
