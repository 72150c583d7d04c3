"""审计记录 exported with its hashes: every event checked, and a verification line that catches tampering."""
from __future__ import annotations

from openpyxl import load_workbook

from exports.audit_log import CHANGED, OK, UNLINKED
from exports.build import build_audit
from exports.period import month as read_month
from exports.run import Run
from models import AuditEvent


def _export(tmp_path, **scope):
    built = build_audit(tmp_path / "audit.xlsx", Run.current(), **scope)
    sheet = load_workbook(built.path)["审计记录"]
    rows = [r for r in sheet.iter_rows(min_row=4, values_only=True) if isinstance(r[0], int)]
    notes = [r[0] for r in sheet.iter_rows(min_row=4, values_only=True) if isinstance(r[0], str)]
    return built, sheet, rows, notes


def test_a_permits_events_come_with_their_hashes_and_a_passing_verification(month, tmp_path):
    no = month[0].no
    built, sheet, rows, notes = _export(tmp_path, permit_no=no)
    events = list(AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq))
    assert [r[0] for r in rows] == [e.seq for e in events]
    assert [(r[6], r[7]) for r in rows] == [(e.prev_hash, e.hash) for e in events]
    assert {r[8] for r in rows} == {OK} and rows[0][4] == "创建" and "snapshot" not in rows[1][5]
    assert notes[0].startswith(f"本表校验：通过。{len(events)} 条事件")
    assert notes[1].startswith("全链校验：完整")
    assert sheet.auto_filter.ref == f"A3:I{3 + len(events)}"   # the verification lines stay outside the filter
    assert built.summary.endswith("校验通过")


def test_a_tampered_event_is_caught_by_the_verification_line(month, tmp_path):
    no = month[1].no
    victim = AuditEvent.select().where((AuditEvent.permit_no == no) & (AuditEvent.action == "sign")).first()
    AuditEvent.update(actor="冒名顶替(nobody)").where(AuditEvent.id == victim.id).execute()
    built, _, rows, notes = _export(tmp_path, permit_no=no)
    verdicts = {r[0]: r[8] for r in rows}
    assert verdicts[victim.seq] == CHANGED and list(verdicts.values()).count(OK) == len(rows) - 1
    assert notes[0].startswith("本表校验：未通过") and f"第 {victim.seq} 号事件内容被改动" in notes[0]
    assert notes[1].startswith(f"全链校验：不完整，问题始于第 {victim.seq} 号事件")
    assert "校验未通过" in built.summary


def test_a_deleted_event_breaks_the_next_ones_link(month, tmp_path):
    events = list(AuditEvent.select().order_by(AuditEvent.seq))
    gone = events[10]
    AuditEvent.delete().where(AuditEvent.id == gone.id).execute()
    _, _, rows, notes = _export(tmp_path, period=read_month("2026-11"))
    verdicts = {r[0]: r[8] for r in rows}
    assert gone.seq not in verdicts and verdicts[gone.seq + 1] == UNLINKED
    assert f"第 {gone.seq + 1} 号事件链接断开" in notes[0]
