"""Random audits (抽查): each day a seeded draw of the permits in progress, checked on site by a safety officer.

The draw keeps its seed, its share and the population it chose from, so anyone can draw again and get
the same permits (`reproduce`). Each permit is drawn on its own with the share's probability, so over
many days the share drawn tends to the setting, whatever the day's count.
"""
from __future__ import annotations

import random
import secrets
from datetime import date, datetime

import settings
from models import CheckIn, Outbox, Person, transaction, utcnow
from models.hazard import (AUDIT_FAILED, AUDIT_PASSED, AUDIT_PENDING, AUDIT_STATE_NAMES, SOURCE_AUDIT, AuditDraw,
                           PermitAudit)
from models.permit import Permit
from workflow import audit, places, template as templates
from workflow.clock import local
from workflow.errors import InvalidPermit, InvalidTransition, NotAuthorized, NotFound
from workflow.machine import actor
from workflow.states import IN_PROGRESS

from . import notify
from .findings import Options, report as report_finding

DRAW_HOUR = 9   # plant time: the day's work has started
CARD_ITEMS = 20   # both platforms' checklist cards hold at most 20 options


def pick(population: list[str], seed: str, share: float) -> list[str]:
    """Return the permits a draw with this seed chooses: each one with probability share, in sorted order."""
    rng = random.Random(seed)
    return [no for no in sorted(population) if rng.random() < share]


def reproduce(draw: AuditDraw) -> list[str]:
    """Draw again from the recorded seed, share and population (an auditor's check of the draw)."""
    return pick(draw.population, draw.seed, draw.share)


def measures(permit: Permit) -> list[str]:
    """Return the permit's safety measures to check: its template's checklist items."""
    t = templates.get(permit.work_type)
    return [item for step in t.steps for item in step.checklist]


def _officer(permit: Permit) -> Person | None:
    node = places.area_of(permit)
    found = notify.officer_of(node) if node is not None else None
    if found is not None:
        return found
    department = notify.safety_department()
    return department[0] if department else None


def draw(day: date, *, now: datetime | None = None, seed: str | None = None,
         share: float | None = None) -> AuditDraw:
    """Draw the day's permits (once: a second call returns the first draw) and send each its officer's list."""
    now = now or utcnow()
    share = settings.current().audit_share if share is None else share
    with transaction():
        existing = AuditDraw.get_or_none(AuditDraw.day == day)
        if existing is not None:
            return existing
        population = sorted(no for (no,) in Permit.select(Permit.no).where(Permit.state == IN_PROGRESS).tuples())
        seed = seed or secrets.token_hex(8)
        chosen = pick(population, seed, share)
        record = AuditDraw.create(day=day, seed=seed, share=share, population=population, drawn=chosen,
                                  drawn_at=now)
        for no in chosen:
            permit = Permit.get(Permit.no == no)
            officer = _officer(permit)
            items = measures(permit)
            row = PermitAudit.create(draw=record, permit=permit, officer=officer, items=items)
            lines = "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
            notify.tell([officer], f"抽查 {no}（{permit.location}）：请到现场扫描作业票二维码签到，逐项检查：\n{lines}\n"
                                   f"检查后在抽查卡片上勾选不合格的项目并提交，或发送“抽查 {no} 合格”或“抽查 {no} 不合格 项目序号 说明”，"
                                   f"例如：抽查 {no} 不合格 3,5 灭火器不足",
                        f"audit:{day}:{no}")
            _card(row, "ask")
        audit.append(permit_no=None, actor="系统", action="audit_draw",
                     data={"day": day.isoformat(), "seed": seed, "share": share, "population": population,
                           "drawn": chosen}, at=now)
    return record


def draw_due(now: datetime) -> int:
    """Draw today's audits on the first scan from DRAW_HOUR (plant time) that finds permits in progress."""
    at = local(now, settings.current().plant_tz)
    if at.hour < DRAW_HOUR or AuditDraw.select().where(AuditDraw.day == at.date()).exists():
        return 0
    if not Permit.select().where(Permit.state == IN_PROGRESS).exists():
        return 0   # nothing to draw from yet: the first scan that finds work under way draws the day
    return len(draw(at.date(), now=now).drawn)


def _parse_items(words: str, count: int) -> tuple[list[int], str]:
    numbers, _, note = words.strip().partition(" ")
    if not numbers:
        raise InvalidPermit("请写明不合格项目的序号，例如：3,5")
    try:
        failed = sorted({int(n) for n in numbers.replace("，", ",").replace("、", ",").split(",") if n.strip()})
    except ValueError:
        raise InvalidPermit("请写明不合格项目的序号，例如：3,5") from None
    if not failed or failed[0] < 1 or failed[-1] > count:
        raise InvalidPermit(f"项目序号应在 1 到 {count} 之间")
    return failed, note.strip()


def record(permit_no: str, passed: bool, words: str = "", *, by: Person, now: datetime | None = None) -> PermitAudit:
    """Record the officer's result sent in chat, done on site; failed items open a finding against the permit's unit."""
    with transaction():
        row = (PermitAudit.select().join(Permit).where(Permit.no == permit_no)
               .order_by(PermitAudit.id.desc()).first())
        if row is None:
            raise NotFound(f"{permit_no} 不在抽查名单中")
        _check(row, by)
        failed, note = [], ""
        if not passed:
            failed, note = _parse_items(words, len(row.items))
            if not note:
                raise InvalidPermit("请写明不合格的情况，例如：抽查 编号 不合格 3,5 灭火器不足")
        return _settle(row, failed, note, by=by, now=now or utcnow())


def record_ticks(audit_id: int, failed_items: list[str], *, by: Person, now: datetime | None = None) -> PermitAudit:
    """Record the result sent from the audit card: the items ticked are the ones found wanting."""
    with transaction():
        row = PermitAudit.get_or_none(PermitAudit.id == audit_id)
        if row is None:
            raise NotFound("没有这次抽查")
        _check(row, by)
        unknown = [item for item in failed_items if item not in row.items]
        if unknown:
            raise InvalidPermit(f"{row.permit.no} 的抽查清单中没有“{unknown[0]}”")
        return _settle(row, [row.items.index(item) + 1 for item in failed_items], "", by=by, now=now or utcnow())


def _check(row: PermitAudit, by: Person) -> None:
    permit_no = row.permit.no
    if row.state != AUDIT_PENDING:
        raise InvalidTransition(f"{permit_no} 已抽查：{AUDIT_STATE_NAMES[row.state]}")
    if by.id != row.officer_id:
        raise NotAuthorized(f"{permit_no} 的抽查由{row.officer.name if row.officer else '安全员'}负责")
    on_site = CheckIn.select().where((CheckIn.permit == row.permit) & (CheckIn.person == by)
                                     & (CheckIn.at >= row.draw.drawn_at)).exists()
    if not on_site:
        raise InvalidPermit(f"请先到现场扫描 {permit_no} 的二维码签到，再记录抽查结果")


def _settle(row: PermitAudit, failed: list[int], note: str, *, by: Person, now: datetime) -> PermitAudit:
    if not failed:
        row.state = AUDIT_PASSED
    else:
        permit = row.permit
        named = "；".join(row.items[i - 1] for i in failed)
        said = f"（{note}）" if note else ""
        finding = report_finding(f"{permit.location} {permit.no} 抽查不合格：{named}{said}", by=by,
                                 options=Options(category="作业许可"), source=SOURCE_AUDIT, now=now)
        finding.unit = permit.unit
        finding.save()
        row.state, row.failed, row.note, row.finding = AUDIT_FAILED, failed, note, finding
    row.done_at = now
    row.save()
    audit.append(permit_no=row.permit.no, actor=actor(by), action="audit_result",
                 data={"state": row.state, "failed": row.failed, "note": row.note,
                       "finding": row.finding.no if row.finding else None}, at=now)
    _card(row, "settle-ask")
    return row


def _card(row: PermitAudit, side: str) -> None:
    """Queue the officer's audit card (or its settling); a list too long for a card stays in the text alone."""
    if row.officer_id is None or not 0 < len(row.items) <= CARD_ITEMS:
        return
    (Outbox.insert(permit_no=None, person=row.officer_id, kind="audit",
                   payload={"kind": "audit", "audit": row.id, "side": side},
                   dedupe_key=f"audit-card:{row.id}:{side}")
     .on_conflict_ignore().execute())
