"""Inspection rounds (巡检): pushed as checklist cards when a plan's period starts, done on site, chased when late.

Presence is proven by the existing site check-in: a scan of the QR code of a permit in the plan's
area (or, for a work-type plan, of a permit of that type) since the round began; for an area plan,
also by opening, in the chat app, the board of an area that holds the plan's area or lies in it. Each item ticked
不符合 opens a finding at that place, through the finding flow everyone else uses.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from peewee import IntegrityError

import settings
from cards.inspection import subject
from models import CheckIn, Outbox, Person, transaction, utcnow
from models.area import Area, AreaVisit, parents, within
from models.hazard import SOURCE_INSPECTION
from models.inspection import DAILY, DONE, PENDING, SHIFT, WEEKLY, Inspection, InspectionPlan
from models.permit import Permit
from workflow import audit, places
from workflow.clock import local
from workflow.errors import InvalidPermit, InvalidTransition, NotAuthorized, NotFound
from workflow.machine import actor

from . import notify
from .findings import Options, report as report_finding, when

BATCH = 500
# Plant-local working times of each schedule: when a round is pushed and when it is due. Three
# eight-hour shifts (三班倒) start at 00:00, 08:00 and 16:00; a day's round is due by the end of the
# day shift, a week's (from Monday) on its Friday.
SHIFT_HOURS = 8
DAY_START, DAY_END = time(8, 0), time(17, 0)
WEEK_DUE_DAYS = 4
# Between escalation levels once a round is overdue: a missed shift's round is stale after a shift.
ESCALATE_EVERY = timedelta(hours=SHIFT_HOURS)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def period(schedule: str, now: datetime) -> tuple[datetime, datetime] | None:
    """Return (start, due) in naive UTC of the schedule's round under way at now; None between rounds."""
    at = local(now, settings.current().plant_tz)
    if schedule == SHIFT:
        start = at.replace(hour=at.hour - at.hour % SHIFT_HOURS, minute=0, second=0, microsecond=0)
        return _utc(start), _utc(start + timedelta(hours=SHIFT_HOURS))
    day = at.date()
    if schedule == WEEKLY:
        day -= timedelta(days=at.weekday())
        due_day = day + timedelta(days=WEEK_DUE_DAYS)
    elif schedule == DAILY:
        due_day = day
    else:
        raise ValueError(f"unknown schedule {schedule!r}")
    start = datetime.combine(day, DAY_START, tzinfo=at.tzinfo)
    due = datetime.combine(due_day, DAY_END, tzinfo=at.tzinfo)
    if not start <= at < due:
        return None
    return _utc(start), _utc(due)


def _card(inspection: Inspection, side: str) -> None:
    (Outbox.insert(permit_no=None, person=inspection.inspector, kind="inspection",
                   payload={"kind": "inspection", "inspection": inspection.id, "side": side},
                   dedupe_key=f"inspection:{inspection.id}:{side}")
     .on_conflict_ignore().execute())


def open_due(now: datetime) -> int:
    """Start each active plan's round whose period has begun and push its card to the inspector."""
    done = 0
    for plan in InspectionPlan.select().where(InspectionPlan.active == True).order_by(InspectionPlan.id):  # noqa: E712
        window = period(plan.schedule, now)
        if not plan.inspector.active:
            continue   # someone who left gets no card; the next workbook names the plan's new inspector
        if window is None or Inspection.select().where((Inspection.plan == plan)
                                                       & (Inspection.starts_at == window[0])).exists():
            continue
        try:
            with transaction():
                row = Inspection.create(plan=plan, starts_at=window[0], due_at=window[1], inspector=plan.inspector,
                                        items=list(plan.items), state=PENDING, remind_at=window[1])
                audit.append(permit_no=None, actor="系统", action="inspection_due",
                             data={"inspection": row.id, "plan": plan.name, "due": row.due_at.isoformat()}, at=now)
                _card(row, "ask")
        except IntegrityError:
            continue   # another scan started this round first (the unique plan-and-start index)
        done += 1
    return done


def _presence(row: Inspection, by: Person) -> Permit | None:
    """Return the permit whose site code the inspector scanned since the round began, if it fits the plan."""
    plan = row.plan
    scans = (CheckIn.select(CheckIn, Permit).join(Permit)
             .where((CheckIn.person == by) & (CheckIn.at >= row.starts_at)).order_by(CheckIn.at.desc()))
    tree = parents() if plan.area_id else None
    for scan in scans:
        permit = scan.permit
        if plan.area_id:
            node = places.area_of(permit)
            if node is not None and within(node.id, plan.area_id, tree):
                return permit
        elif permit.work_type == plan.work_type:
            return permit
    return None


def visited(area: Area, person: Person, platform: str, now: datetime | None = None) -> AreaVisit:
    """Record that person proved, through the app's OAuth, to have opened area's board at its entrance."""
    now = now or utcnow()
    with transaction():
        visit = AreaVisit.create(area=area, person=person, platform=platform, at=now)
        audit.append(permit_no=None, actor=actor(person), action="area_visit",
                     data={"visit": visit.id, "area": area.name, "platform": platform}, at=now)
    return visit


def _visit(row: Inspection, by: Person, until: datetime | None = None) -> AreaVisit | None:
    """Return the latest visit by the inspector to a board covering the plan's area since the round began.

    A board shows everything under its area, so a visit proves presence there and below; a visit to a
    board inside the plan's area counts as a permit's code there does.
    """
    if not row.plan.area_id:
        return None
    query = AreaVisit.select().where((AreaVisit.person == by) & (AreaVisit.at >= row.starts_at))
    if until is not None:
        query = query.where(AreaVisit.at <= until)
    tree = parents()
    for visit in query.order_by(AreaVisit.at.desc(), AreaVisit.id.desc()):
        if within(row.plan.area_id, visit.area_id, tree) or within(visit.area_id, row.plan.area_id, tree):
            return visit
    return None


def proof(row: Inspection) -> str | None:
    """Say what proved the inspector's presence at a round done: the permit's code, or the area board's visit."""
    if row.permit_id:
        return row.permit.no
    visit = _visit(row, row.inspector, row.done_at) if row.done_at else None
    return f"区域看板 {visit.area.name} {when(visit.at)}" if visit is not None else None


def _where(row: Inspection, permit: Permit | None) -> str:
    if row.plan.area_id:
        return row.plan.area.name
    node = places.area_of(permit)
    return node.name if node is not None else permit.location.split()[0]


def record(inspection_id: int, failed_items: list[str], *, by: Person, now: datetime | None = None) -> Inspection:
    """Record a round done on site; each item ticked 不符合 opens a finding at the place checked."""
    now = now or utcnow()
    with transaction():
        row = Inspection.get_or_none(Inspection.id == inspection_id)
        if row is None:
            raise NotFound("没有这次巡检")
        plan = row.plan
        if row.state != PENDING:
            raise InvalidTransition(f"巡检“{plan.name}”已于 {when(row.done_at)} 提交")
        if by.id != row.inspector_id:
            raise NotAuthorized(f"巡检“{plan.name}”由{row.inspector.name}负责")
        permit = _presence(row, by)
        visit = _visit(row, by, now) if permit is None else None
        if permit is None and visit is None:
            if plan.area_id:
                raise InvalidPermit(f"请先到现场扫描{subject(plan)}内作业票的二维码签到，"
                                    f"或用手机扫描区域入口看板的二维码，再提交巡检结果")
            raise InvalidPermit(f"请先到现场扫描正在进行的{subject(plan)}作业票的二维码签到，再提交巡检结果")
        unknown = [item for item in failed_items if item not in row.items]
        if unknown:
            raise InvalidPermit(f"巡检表中没有“{unknown[0]}”")
        place, found = _where(row, permit), []
        for item in failed_items:
            finding = report_finding(f"{place} {item}：不符合（巡检“{plan.name}”）", by=by,
                                     options=Options(category="巡检"), source=SOURCE_INSPECTION, now=now)
            found.append(finding.no)
        row.state, row.done_at, row.permit = DONE, now, permit
        row.failed = [row.items.index(item) + 1 for item in failed_items]
        row.findings, row.remind_at, row.escalate_at = found, None, None
        row.save()
        proved = {"visit": visit.id} if visit is not None else {}
        audit.append(permit_no=permit.no if permit else None, actor=actor(by), action="inspection_done",
                     data={"inspection": row.id, "plan": plan.name, "failed": row.failed, "findings": found,
                           **proved}, at=now)
        _card(row, "settle-ask")
    return row


def _take(row_id: int, column, seen: datetime, **changes) -> bool:
    """Claim the timer if nobody moved it since the scan read it."""
    return Inspection.update(**changes).where((Inspection.id == row_id) & (column == seen)).execute() == 1


def _interval() -> timedelta:
    return ESCALATE_EVERY * settings.current().step_limit_factor


def remind_due(now: datetime) -> int:
    """Remind the inspector of each round past its due time; start its escalation clock."""
    rows = (Inspection.select(Inspection.id, Inspection.remind_at)
            .where((Inspection.remind_at <= now) & (Inspection.state == PENDING)).order_by(Inspection.remind_at)
            .limit(BATCH))
    done = 0
    for row_id, seen in list(rows.tuples()):
        with transaction():
            if not _take(row_id, Inspection.remind_at, seen, remind_at=None, escalate_at=now + _interval()):
                continue
            row = Inspection.get_by_id(row_id)
            audit.append(permit_no=None, actor="系统", action="inspection_overdue",
                         data={"inspection": row.id, "plan": row.plan.name}, at=now)
            notify.tell([row.inspector], f"催办：巡检“{row.plan.name}”（{subject(row.plan)}）应于 {when(row.due_at)} "
                                         f"前完成，尚未提交。请到现场扫码签到后在巡检卡片上提交",
                        f"inspection:{row.id}:overdue")
            done += 1
    return done


def escalate_due(now: datetime) -> int:
    """Tell the next level of the inspector's unit chain about each round still not done."""
    rows = (Inspection.select(Inspection.id, Inspection.escalate_at)
            .where((Inspection.escalate_at <= now) & (Inspection.state == PENDING))
            .order_by(Inspection.escalate_at).limit(BATCH))
    done = 0
    for row_id, seen in list(rows.tuples()):
        with transaction():
            row = Inspection.get_by_id(row_id)
            chain = notify.chain(row.inspector.department)
            levels = [[p for p in level if p.id != row.inspector_id] for level in chain]
            levels = [level for level in levels if level]
            level = row.escalation_level
            nxt = now + _interval() if level + 1 < len(levels) else None
            if not _take(row_id, Inspection.escalate_at, seen, escalate_at=nxt, escalation_level=level + 1):
                continue
            people = levels[level] if level < len(levels) else []
            audit.append(permit_no=None, actor="系统", action="inspection_escalated",
                         data={"inspection": row.id, "level": level + 1, "to": [p.id for p in people]}, at=now)
            notify.tell(people, f"超期上报：巡检“{row.plan.name}”（{subject(row.plan)}）应于 {when(row.due_at)} 前完成，"
                                f"{row.inspector.name}尚未提交，请督办", f"inspection:{row.id}:escalated:{level + 1}")
            done += 1
    return done
