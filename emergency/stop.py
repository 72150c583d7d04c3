"""Raise, join and close an emergency for an area: stop its running permits and call everyone out."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import Alarm, Outbox, Person, PersonRole, transaction, utcnow
from models.area import Area, lineage, nearest, parents, within
from models.emergency import DRILL, EMERGENCY, Emergency
from models.permit import Permit
from workflow import audit, groups, machine, places
from workflow.errors import InvalidPermit, NotAuthorized
from workflow.simops import LIVE
from workflow.states import IN_PROGRESS
from workflow.suspension import SAFETY_ROLES, suspend

from .muster import refresh_cards, send_cards
from .roster import muster_list, tag

RESCUE = "应急救援人员"
# Who may raise one without being on a permit there: the people whose job is the plant's safety.
RAISERS = SAFETY_ROLES | {RESCUE}


@dataclass(frozen=True)
class Raised:
    emergency: Emergency
    joined: bool           # an open emergency of the area (or of a place above it) took the report
    suspended: tuple[str, ...]


def area_named(words: str) -> tuple[Area, str]:
    """Return the node the first word names and the rest as written; refuse a place not in the tree.

    The first word alone names the area: "储运罐区 3#罐区东侧泄漏" is the whole unit, reported at 3#罐区.
    """
    parts = (words or "").split(maxsplit=1)
    name, rest = (parts + ["", ""])[:2]
    area = places.node_named(name) if name else None
    if area is None:
        near = places.suggestions(name)
        hint = f"最接近的是：{'、'.join(near)}" if near else "请先导入区域表"
        raise InvalidPermit(f"区域“{name}”不在本厂区域表中，{hint}")
    return area, rest.strip()


def permits_in(area: Area) -> list[Permit]:
    """Return the live permits at area or at any place under it, oldest first."""
    parent_of = parents()
    found = []
    for permit in Permit.select().where(Permit.state.in_(LIVE)).order_by(Permit.id):
        node = places.area_of(permit)
        if node is not None and within(node.id, area.id, parent_of):
            found.append(permit)
    return found


def open_for(area: Area) -> Emergency | None:
    """Return the open emergency of area or of a place above it."""
    above = lineage(area.id)
    return (Emergency.select().where(Emergency.closed_at.is_null() & Emergency.area.in_(above))
            .order_by(Emergency.id).first())


def _callers(area: Area, permits: list[Permit], by: Person) -> list[Person]:
    """Everyone who gets the card: the muster list, the rest of each permit, the rescue team, the officer."""
    people = {p.id: p for p in muster_list(permits)}
    for permit in permits:
        for person in [permit.applicant] + machine.approvers(permit):
            people.setdefault(person.id, person)
    rescue = Person.select().join(PersonRole).where((PersonRole.role == RESCUE) & (Person.active == True))  # noqa: E712
    officer = nearest(area, "safety_officer")
    for person in list(rescue) + ([officer] if officer else []) + [by]:
        people.setdefault(person.id, person)
    return [p for p in people.values() if p.active]


def may_drill(by: Person, area: Area | None = None) -> bool:
    """A drill is planned work: only the plant's safety people (or the area's safety officer) start one."""
    return bool(RAISERS & by.role_names()) or (area is not None and nearest(area, "safety_officer") == by)


def _may_raise(by: Person, area: Area, permits: list[Permit], on_site: bool) -> None:
    # on_site: proved present at a work site of the area (the board's QR code and the app's OAuth):
    # whoever stands there and sees the danger may raise it.
    if on_site or RAISERS & by.role_names() or any(by.id in machine.involved(p) for p in permits):
        return
    if nearest(area, "safety_officer") == by:
        return
    raise NotAuthorized(f"{by.name}不在{area.name}的作业票上，也不是安全员或应急救援人员，不能发起应急；"
                        f"请立即电话报告安全员")


def _send(alarm: Alarm, people: list[Person]) -> None:
    for person in people:
        (Outbox.insert(permit_no=(alarm.permit_nos or [None])[0], person=person, kind="alarm",
                       payload={"kind": "alarm", "alarm": alarm.id, "round": 1, "text": alarm.text},
                       dedupe_key=f"alarm:{alarm.id}:1:{person.id}")
         .on_conflict_ignore().execute())


def raise_emergency(words: str, *, by: Person, drill: bool = False, now: datetime | None = None,
                    door: str = "chat") -> Raised:
    """Raise an emergency for the area the words start with (应急 / 演练); an open one of it takes the report.

    door "board": raised on a work site's board by a person its QR code and OAuth proved present.
    """
    now = now or utcnow()
    area, said = area_named(words)
    if not said:
        raise InvalidPermit("请说明情况，例如：应急 3#罐区 东侧法兰泄漏")
    if drill and not may_drill(by, area):
        raise NotAuthorized(f"{by.name}不能发起演练：演练须由安全员或应急救援人员发起")
    with transaction():
        permits = permits_in(area)
        _may_raise(by, area, permits, on_site=door == "board")
        current = open_for(area)
        if current is not None:
            return _join(current, area, said, by=by, now=now)
        reason = f"{tag(drill)}{area.name}：{said}"
        stopped = [p.no for p in permits if p.state == IN_PROGRESS]
        for no in stopped:
            suspend(no, by=None, reason=reason, now=now, announce=False)
        people = _callers(area, permits, by)
        alarm = Alarm.create(level=DRILL if drill else EMERGENCY, text=reason[:500], area=area.name,
                             permit_nos=[p.no for p in permits], suspended=stopped,
                             recipients=[p.id for p in people], reading_at=now, raised_at=now)
        emergency = Emergency.create(area=area, drill=drill, text=said, raised_by=by, raised_at=now,
                                     alarm=alarm, permit_nos=alarm.permit_nos, suspended=stopped)
        audit.append(permit_no=(alarm.permit_nos or [None])[0], actor=by.label(), action="emergency",
                     data={"emergency": emergency.id, "drill": drill, "area": area.name, "text": said,
                           "door": door, "permits": alarm.permit_nos, "suspended": stopped,
                           "recipients": alarm.recipients}, at=now)
        _send(alarm, people)
        send_cards(emergency)
        groups.post(area.name, reason, key=f"emergency:{emergency.id}",
                    permit_no=(alarm.permit_nos or [None])[0])
    return Raised(emergency, False, tuple(stopped))


def _join(current: Emergency, area: Area, said: str, *, by: Person, now: datetime) -> Raised:
    """Add a second report to the open emergency: its text, and any permit of the area started since."""
    alarm = current.alarm
    late = [p for p in permits_in(current.area) if p.no not in current.permit_nos]
    stopped = [p.no for p in late if p.state == IN_PROGRESS]
    for no in stopped:
        suspend(no, by=None, reason=f"{tag(current.drill)}{current.area.name}：{current.text}", now=now,
                announce=False)
    newcomers = [p for p in _callers(current.area, late, by) if p.id not in alarm.recipients]
    current.text = f"{current.text}\n{by.name}（{area.name}）：{said}"
    current.permit_nos = current.permit_nos + [p.no for p in late]
    current.suspended = current.suspended + stopped
    current.save()
    alarm.permit_nos, alarm.suspended = current.permit_nos, current.suspended
    alarm.recipients = alarm.recipients + [p.id for p in newcomers]
    alarm.save()
    audit.append(permit_no=(current.permit_nos or [None])[0], actor=by.label(), action="emergency_join",
                 data={"emergency": current.id, "area": area.name, "text": said,
                       "permits": [p.no for p in late], "suspended": stopped}, at=now)
    _send(alarm, newcomers)
    refresh_cards(current, f"join{len(current.text)}")   # the join grew the text: one update per report
    return Raised(current, True, tuple(stopped))


def close(words: str, *, by: Person, now: datetime | None = None) -> Emergency:
    """Close the open emergency of the area the words start with, recording its handling (解除应急)."""
    now = now or utcnow()
    area, handling = area_named(words)
    if not handling:
        raise InvalidPermit("请写明处置情况，例如：解除应急 3#罐区 泄漏点已封堵，现场检测合格")
    with transaction():
        current = open_for(area)
        if current is None:
            raise InvalidPermit(f"{area.name}没有未解除的应急")
        if not RAISERS & by.role_names() and by.id != getattr(current.raised_by, "id", None):
            raise NotAuthorized(f"{by.name}不能解除应急：须由发起人、安全员或应急救援人员解除")
        current.closed_at, current.closed_by, current.handling = now, by, handling
        current.save()
        alarm = current.alarm
        alarm.cleared_at = now
        alarm.save()
        audit.append(permit_no=(current.permit_nos or [None])[0], actor=by.label(), action="emergency_close",
                     data={"emergency": current.id, "handling": handling, "suspended": current.suspended},
                     at=now)
        text = (f"{tag(current.drill)}{current.area.name} 应急已解除：{handling}。"
                f"已暂停的作业票 {'、'.join(current.suspended) or '无'} 须经气体复测、监护人确认后方可恢复")
        for person_id in alarm.recipients:
            (Outbox.insert(permit_no=(current.permit_nos or [None])[0], person=person_id, kind="reply",
                           payload={"kind": "reply", "text": text},
                           dedupe_key=f"emergency-close:{current.id}:{person_id}")
             .on_conflict_ignore().execute())
            refresh_cards(current, "closed", milestone=True)
    return current


def resume_problems(permit: Permit, **_kwargs) -> list[str]:
    """The engine's resume check: no permit restarts in an area whose emergency is still open."""
    node = places.area_of(permit)
    current = open_for(node) if node is not None else None
    if current is None:
        return []
    return [f"{current.area.name}的{tag(current.drill)}尚未解除，不能恢复作业"]
