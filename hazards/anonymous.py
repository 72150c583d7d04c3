"""Anonymous reports (匿名举报): stored with no link to the reporter, followed up by a code only they hold.

Nothing here is ever given the reporter: the chat handler passes the words alone. The row keeps
the plant-local day it came in, never the instant, and the safety department hears of new reports
in an hourly summary, so no timestamped row sits next to the moment someone sent one.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import settings
from models import Person, transaction, utcnow
from models.hazard import (ACCEPTED, DISMISSED, GRADES, ORDINARY, PENDING, REPORT_STATE_NAMES,
                           SOURCE_REPORT, AnonymousReport, Finding)
from workflow import audit, places
from workflow.clock import local
from workflow.errors import InvalidPermit, InvalidTransition, NotAuthorized, NotFound
from workflow.machine import actor
from workflow.suspension import SAFETY_ROLES

from . import notify
from .findings import Options, report as report_finding

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"   # no 0/O, 1/I/L: read aloud and retyped by hand
# The same words for a malformed code and an unknown one; the code asked for is echoed so that two such
# answers differ (WeCom drops a text identical to one sent in the last half hour).
UNKNOWN = "查不到举报编号“{code}”的记录，请核对后重试"


def _hash(code: str) -> str:
    key = settings.signing_key().encode("utf-8")
    return hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"JB-{raw[:4]}-{raw[4:]}"


def _normal(code: str) -> str:
    return (code or "").strip().upper().replace(" ", "")


def submit(words: str, *, now: datetime | None = None) -> tuple[str, AnonymousReport]:
    """Store a report ("[区域] 内容"); return the follow-up code, which is kept only as a keyed hash."""
    text = (words or "").strip()
    if not text:
        raise InvalidPermit("请写明举报内容，例如：举报 3#罐区 有人未办作业票动火")
    area = None
    first, _, rest = text.partition(" ")
    if rest.strip() and places.has_tree():
        area = places.node_named(first)
        if area is not None:
            text = rest.strip()
    day = local(now or utcnow(), settings.current().plant_tz).date()
    with transaction():
        code = _new_code()
        while AnonymousReport.select().where(AnonymousReport.code_hash == _hash(code)).exists():
            code = _new_code()
        row = AnonymousReport.create(code_hash=_hash(code), text=text[:2000], area=area,
                                     place=area.name if area else "", received_on=day, state=PENDING)
    return code, row


def status(code: str) -> str:
    """Tell the holder of a code how their report stands; an unknown code learns nothing."""
    row = AnonymousReport.get_or_none(AnonymousReport.code_hash == _hash(_normal(code)))
    if row is None:
        return UNKNOWN.format(code=_normal(code)[:20])
    text = f"举报 {_normal(code)}：{REPORT_STATE_NAMES[row.state]}"
    if row.state == ACCEPTED and row.finding is not None:
        from models.hazard import STATE_NAMES
        text += f"，隐患 {row.finding.no} {STATE_NAMES[row.finding.state]}"
    elif row.state == DISMISSED:
        text += f"，理由：{row.outcome}"
    return text


def _triager(by: Person) -> None:
    if not SAFETY_ROLES & by.role_names() and by.id not in {p.id for p in notify.safety_department()}:
        raise NotAuthorized(f"{by.name}不是安全管理部门人员或安全员，不能处理举报")


def pending() -> list[AnonymousReport]:
    return list(AnonymousReport.select().where(AnonymousReport.state == PENDING).order_by(AnonymousReport.id))


def _get(report_id: int) -> AnonymousReport:
    row = AnonymousReport.get_or_none(AnonymousReport.id == report_id)
    if row is None:
        raise NotFound(f"没有第 {report_id} 号举报")
    if row.state != PENDING:
        raise InvalidTransition(f"第 {report_id} 号举报已处理：{REPORT_STATE_NAMES[row.state]}")
    return row


def accept(report_id: int, *, by: Person, grade: str = ORDINARY, now: datetime | None = None) -> Finding:
    """Open a finding from the report (its place and words); the triager becomes its inspector."""
    now = now or utcnow()
    _triager(by)
    if grade not in GRADES:
        raise InvalidPermit(f"等级只能是 {' / '.join(GRADES)}")
    with transaction():
        row = _get(report_id)
        if row.area is None:
            raise InvalidPermit(f"第 {report_id} 号举报没有写明区域，请先现场核实，再以“隐患 区域 描述”登记")
        finding = report_finding(f"{row.area.name} {row.text}", by=by, source=SOURCE_REPORT, now=now,
                                 options=Options(grade=grade, blocks_permits=False))
        row.state, row.finding, row.triaged_by, row.triaged_at = ACCEPTED, finding, by, now
        row.save()
        audit.append(permit_no=None, actor=actor(by), action="report_accepted",
                     data={"report": row.id, "finding": finding.no}, at=now)
    return finding


def dismiss(report_id: int, reason: str, *, by: Person, now: datetime | None = None) -> AnonymousReport:
    """Close the report with a reason the reporter sees when they check their code."""
    now = now or utcnow()
    _triager(by)
    if not reason.strip():
        raise InvalidPermit("请写明不予立案的理由")
    with transaction():
        row = _get(report_id)
        row.state, row.outcome, row.triaged_by, row.triaged_at = DISMISSED, reason.strip()[:500], by, now
        row.save()
        audit.append(permit_no=None, actor=actor(by), action="report_dismissed",
                     data={"report": row.id, "reason": row.outcome}, at=now)
    return row


def announce_due(now: datetime) -> int:
    """Once an hour, tell the safety department how many reports wait; return how many were new."""
    at = local(now, settings.current().plant_tz)
    if at.minute >= 10:   # only in the first minutes of an hour: the summary's time says the hour, no more
        return 0
    waiting = pending()
    if not waiting:
        return 0
    lines = "\n".join(f"第 {r.id} 号（{r.place or '未写区域'}）：{r.text[:60]}" for r in waiting)
    with transaction():
        notify.tell(notify.safety_department(),
                    f"待处理的匿名举报 {len(waiting)} 条：\n{lines}\n"
                    f"处理：举报处理 号码 立案 [重大] / 举报处理 号码 不予立案 理由",
                    f"reports:{at:%Y%m%d%H}")
    return len(waiting)
