"""作业票台账 and 签字明细: one row per permit and one per signature, read in keyset pages."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from peewee import JOIN

from models import AuditEvent, Department, GasReading, Person, Signature, Step
from models.permit import Permit, PermitMember
from workflow import template as templates
from workflow.gas import others_text
from workflow.rules import UNGRADED

from . import values
from .run import PAGE, Run, fetch
from .scope import Scope
from .sheet import Column, Sheet

LEDGER = "作业票台账"
SIGNATURES = "签字明细"
TIME = 19   # width of a yyyy-mm-dd h:mm:ss column

LEDGER_COLUMNS = (
    Column("作业票编号", 19), Column("作业类型", 12), Column("级别", 7), Column("状态", 8),
    Column("所属单位", 13), Column("作业地点", 22), Column("作业内容", 28), Column("介质", 8),
    Column("申请人", 9), Column("作业人", 16), Column("监护人", 12),
    Column("计划开始", TIME), Column("计划结束", TIME), Column("提交时间", TIME), Column("批准时间", TIME),
    Column("开工时间", TIME), Column("完工时间", TIME), Column("验收时间", TIME), Column("关闭时间", TIME),
    Column("开工前气体检测时间", TIME), Column("检测人/检测仪", 13), Column("O2 %vol", 9), Column("EX %LEL", 9),
    Column("H2S mg/m³", 10), Column("CO mg/m³", 10), Column("其他气体", 20), Column("气体结论", 9),
    Column("暂停次数", 9), Column("暂停记录", 36), Column("签字记录", 80),
)
SIGNATURE_COLUMNS = (
    Column("作业票编号", 19), Column("作业类型", 12), Column("步骤", 16), Column("轮次", 6),
    Column("签字人", 9), Column("决定", 10), Column("签字时间", TIME), Column("渠道", 9), Column("意见", 30),
)
VERDICTS = {True: "合格", False: "不合格", None: "未判定"}
_PERMIT_FIELDS = (Permit.id, Permit.no, Permit.work_type, Permit.grade, Permit.state, Department.name,
                  Permit.location, Permit.content, Permit.medium, Person.name, Permit.planned_start,
                  Permit.planned_end, Permit.submitted_at, Permit.issued_at, Permit.started_at,
                  Permit.completed_at, Permit.closed_at)


def count(scope: Scope, run: Run) -> int:
    return Permit.select().where(scope.permits(run.tz)).count()


def pages(scope: Scope, run: Run) -> Iterator[list[tuple]]:
    """Yield the scope's permits, PAGE at a time, in id order, as tuples of _PERMIT_FIELDS."""
    condition, last = scope.permits(run.tz), 0
    while True:
        page = fetch(Permit.select(*_PERMIT_FIELDS)
                     .join(Department, on=Permit.unit == Department.id)
                     .switch(Permit).join(Person, on=Permit.applicant == Person.id)
                     .where(condition & (Permit.id > last)).order_by(Permit.id).limit(PAGE),
                     datetimes=tuple(range(10, 17)))
        if not page:
            return
        yield page
        last = page[-1][0]


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the ledger and signature sheets; return their row counts."""
    heading = run.heading(scope.period.label, scope.describe())
    ledger = Sheet(book, LEDGER, LEDGER_COLUMNS, title=f"{LEDGER}（{scope.period.label}）", heading=heading,
                   freeze_columns=1, empty_note="本期间没有符合条件的作业票")
    signed = Sheet(book, SIGNATURES, SIGNATURE_COLUMNS, title=f"{SIGNATURES}（{scope.period.label}）",
                   heading=heading, freeze_columns=1, empty_note="本期间没有签字记录")
    for page in pages(scope, run):
        for row, signature_rows in _rows(page, run):
            ledger.append(row)
            for signature in signature_rows:
                signed.append(signature)
        run.progress.advance(len(page))
    return {LEDGER: ledger.finish(), SIGNATURES: signed.finish()}


def _rows(page: list[tuple], run: Run) -> Iterator[tuple[list, list]]:
    ids = [p[0] for p in page]
    members = _members(ids)
    signatures = _signatures(ids)
    readings = _start_readings(ids)
    pauses = _suspensions({p[1]: p[0] for p in page}, run)
    at = run.clock
    for (pid, no, work_type, grade, state, unit, location, content, medium, applicant, planned_start,
         planned_end, submitted, issued, started, completed, closed) in page:
        type_name = templates.get(work_type).name
        signs = signatures.get(pid, ())
        accepted = max((s[5] for s in signs if s[2] == "accept" and s[4] in ("confirm", "approve")), default=None)
        reading = readings.get(pid)
        gas = [at(reading[0]), reading[1], *reading[2:7], VERDICTS[reading[7]]] if reading else [None] * 8
        paused = pauses.get(pid, [])
        signed = [(s, at(s[5])) for s in signs]
        row = [no, type_name, grade if grade != UNGRADED else None, values.state(state), unit,
               location, content, medium, applicant, "、".join(members[pid]["作业人"]),
               "、".join(members[pid]["监护人"]), at(planned_start), at(planned_end), at(submitted),
               at(issued), at(started), at(completed), at(accepted), at(closed), *gas,
               len(paused), "；".join(paused) or None,
               "；".join(f"{s[1]} {s[3]} {values.decision(s[4])} {values.short(t)}" for s, t in signed) or None]
        yield row, [[no, type_name, s[1], s[6], s[3], values.decision(s[4]), t, values.channel(s[7]), s[8] or None]
                    for s, t in signed]


def _members(ids: list[int]) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"作业人": [], "监护人": []})
    rows = fetch(PermitMember.select(PermitMember.permit, PermitMember.role, Person.name).join(Person)
                 .where(PermitMember.permit.in_(ids)).order_by(PermitMember.id))
    for permit_id, role, name in rows:
        found[permit_id].setdefault(role, []).append(name)
    return found


def _signatures(ids: list[int]) -> dict[int, list[tuple]]:
    """Return each permit's signatures, oldest first: (permit, step, phase, signer, decision, at, round,
    channel, comment)."""
    found: dict[int, list[tuple]] = defaultdict(list)
    rows = fetch(Signature.select(Signature.permit, Step.name, Step.phase, Person.name, Signature.decision,
                                  Signature.signed_at, Signature.round, Signature.channel, Signature.comment)
                 .join(Step, on=Signature.step == Step.id).switch(Signature)
                 .join(Person, on=Signature.person == Person.id)
                 .where(Signature.permit.in_(ids)).order_by(Signature.id), datetimes=(5,))
    for row in rows:
        found[row[0]].append(row)
    return found


def _start_readings(ids: list[int]) -> dict[int, tuple]:
    """Return each started permit's newest reading taken at or before its start: (taken_at, tester
    or device, O2, EX, H2S, CO, the other gases as text, passed)."""
    tester = Person.alias()
    rows = fetch(GasReading.select(GasReading.permit, GasReading.taken_at, GasReading.device, tester.name,
                                   GasReading.o2, GasReading.ex, GasReading.h2s, GasReading.co, GasReading.others,
                                   GasReading.passed)
                 .join(Permit, on=GasReading.permit == Permit.id)
                 .switch(GasReading).join(tester, on=GasReading.tester == tester.id, join_type=JOIN.LEFT_OUTER)
                 .where(GasReading.permit.in_(ids) & Permit.started_at.is_null(False)
                        & (GasReading.taken_at <= Permit.started_at))
                 .order_by(GasReading.permit, GasReading.taken_at, GasReading.id), datetimes=(1,))
    found = {}
    for permit_id, taken_at, device, tester_name, o2, ex, h2s, co, others, passed in rows:
        # passed is 1/0 on SQLite and MySQL: the verdict words are looked up by truth, not identity.
        found[permit_id] = (taken_at, tester_name or (f"检测仪 {device}" if device else None), o2, ex, h2s,
                            co, others_text(others), None if passed is None else bool(passed))
    return found


def _suspensions(ids: dict[str, int], run: Run) -> dict[int, list[str]]:
    """Return each permit's pauses as "11-24 10:00 暂停（原因）至 10:40", keyed by permit id."""
    found: dict[int, list[str]] = defaultdict(list)
    rows = (AuditEvent.select(AuditEvent.permit_no, AuditEvent.action, AuditEvent.created_at, AuditEvent.data)
            .where(AuditEvent.permit_no.in_(list(ids)) & AuditEvent.action.in_(["suspend", "resume"]))
            .order_by(AuditEvent.seq).tuples())
    for no, action, created_at, data in rows:
        pauses = found[ids[no]]
        at = run.clock(created_at)
        if action == "suspend":
            pauses.append(f"{at:%m-%d %H:%M} 暂停（{(data or {}).get('reason', '')}）")
        elif pauses:
            pauses[-1] += f"至 {at:%m-%d %H:%M}"
    return found
