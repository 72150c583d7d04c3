"""Register, verify and release isolation points; every step is audited on each permit it concerns.

A point is one physical valve, breaker or blind. While it is not released, a second permit that
names the same tag joins it instead of creating another, so one lock can hold for several jobs and
is released only once the last of them has ended.
"""
from __future__ import annotations

from datetime import datetime

from models import Outbox, Person, transaction, utcnow
from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Attachment, Permit
from workflow import assign, audit, machine, work
from workflow.errors import GateNotMet, InvalidPermit, NotAuthorized, NotFound
from workflow.machine import Ctx, Outcome, run
from workflow.states import CLOSED, FINAL

# What each method of isolation locks out: the kind of point it makes.
METHODS = {"关阀上锁": "阀门", "断电上锁": "断路器", "加盲板": "盲板", "拆除管段": "阀门"}
OPEN = ("isolated", "verified", "releasing")
# Org roles that may isolate, verify or release for any permit of their unit.
UNIT_SAFETY = ("基层单位负责人", "安全员")


def label(point: IsolationPoint) -> str:
    return f"{point.tag}（{point.method}，锁 {point.lock_no}）"


def open_point(tag: str) -> IsolationPoint | None:
    """Return the point with this tag that is not yet released."""
    return (IsolationPoint.select().where((IsolationPoint.tag == tag) & IsolationPoint.state.in_(OPEN))
            .order_by(IsolationPoint.id.desc()).first())


def permits_of(point: IsolationPoint, *, still_open: bool = False) -> list[Permit]:
    """Return the permits linked to point, oldest link first; still_open keeps those not yet ended."""
    rows = (Permit.select().join(IsolationLink).where(IsolationLink.point == point)
            .order_by(IsolationLink.id))
    return [p for p in rows if not still_open or p.state not in FINAL]


def _purpose(permit: Permit, tag: str) -> str:
    """A 盲板抽堵 permit fits or removes its own blind; every other point (its valves too) it depends on."""
    if permit.work_type == "blind_plate" and tag == (permit.attributes or {}).get("blind_no"):
        return "fits" if permit.attributes.get("action") == "堵" else "removes"
    return "depends"


def blind_in_place(point: IsolationPoint) -> bool:
    """Say whether a blind fitted under a permit is still in the line: no removing permit has closed."""
    links = list(IsolationLink.select(IsolationLink, Permit).join(Permit).where(IsolationLink.point == point))
    # A fitting permit that never closed (cancelled, rejected) put no blind in.
    fitted = any(link.purpose == "fits" and link.permit.state == CLOSED for link in links)
    removed = any(link.purpose == "removes" and link.permit.state == CLOSED for link in links)
    return fitted and not removed


def _may_act(person: Person, permit: Permit) -> bool:
    return person.id in machine.involved(permit) or (
        person.department_id == permit.unit_id and bool(set(UNIT_SAFETY) & person.role_names()))


def _ask(point: IsolationPoint, people: list[Person], ask: str, permit_no: str | None) -> None:
    """Queue a card about point to each person (verify or release), once per person and ask."""
    for person in people:
        (Outbox.insert(permit_no=permit_no, person=person, kind="isolation",
                       payload={"kind": "isolation", "point": point.id, "ask": ask},
                       dedupe_key=f"isolation:{point.id}:{ask}:{person.id}")
         .on_conflict_ignore().execute())


def _settle(point: IsolationPoint, ask: str, permit_no: str | None) -> None:
    """Turn every card that asked about point into its outcome."""
    asked = Outbox.select(Outbox.person).where(Outbox.dedupe_key.startswith(f"isolation:{point.id}:{ask}:"))
    for (person_id,) in asked.tuples():
        (Outbox.insert(permit_no=permit_no, person=person_id, kind="isolation",
                       payload={"kind": "isolation", "point": point.id, "ask": "settle", "settles": ask},
                       dedupe_key=f"isolation:{point.id}:settle-{ask}:{person_id}")
         .on_conflict_ignore().execute())


def _audit_each(point: IsolationPoint, permits: list[Permit], *, by: Person | None, action: str,
                data: dict, at: datetime) -> None:
    facts = {"point": point.id, "tag": point.tag, "lock_no": point.lock_no, **data}
    for permit in permits or [None]:
        audit.append(permit_no=permit.no if permit else None, actor=machine.actor(by), action=action,
                     data=facts, at=at)


def register(permit_no: str, *, tag: str, method: str, lock_no: str, tag_no: str = "", by: Person,
             now: datetime | None = None) -> Outcome:
    """Lock out a point for the permit (or join the point already locked out under that tag)."""
    tag, lock_no = tag.strip(), lock_no.strip()

    def body(ctx: Ctx) -> None:
        if not _may_act(by, ctx.permit):
            raise NotAuthorized(f"{by.name}与作业票 {ctx.permit.no} 无关，不能登记能量隔离")
        if method not in METHODS:
            raise InvalidPermit(f"隔离方式“{method}”无效，可选：{'、'.join(METHODS)}")
        if not tag or not lock_no or len(tag) > 64 or len(lock_no) > 32 or len(tag_no) > 32:
            raise InvalidPermit("请写明点位编号和锁号（点位不超过 64 字，锁号不超过 32 字）")
        point = open_point(tag)
        if point is None:
            point = IsolationPoint.create(tag=tag, kind=METHODS[method], method=method, lock_no=lock_no,
                                          tag_no=tag_no or lock_no, unit=ctx.permit.unit, isolated_by=by,
                                          isolated_at=ctx.now)
            joined = False
        elif point.state == "releasing":
            raise GateNotMet(f"点位 {tag} 正在解除隔离，请解除后重新上锁再登记")
        elif point.lock_no != lock_no:
            raise InvalidPermit(f"点位 {tag} 已由 {point.isolated_by.name} 以锁 {point.lock_no} 隔离，"
                                f"锁号 {lock_no} 不符")
        else:
            joined = True
        if IsolationLink.get_or_none((IsolationLink.point == point) & (IsolationLink.permit == ctx.permit)):
            raise InvalidPermit(f"点位 {tag} 已在作业票 {ctx.permit.no} 的隔离清单中")
        purpose = _purpose(ctx.permit, tag)
        IsolationLink.create(point=point, permit=ctx.permit, purpose=purpose, added_by=by, added_at=ctx.now)
        ctx.bump = False
        ctx.data = {"point": point.id, "tag": tag, "kind": point.kind, "method": point.method,
                    "lock_no": point.lock_no, "tag_no": point.tag_no, "purpose": purpose, "joined": joined}
        if point.state == "isolated":
            checkers = [p for p in machine.members(ctx.permit, "监护人") if p.id != point.isolated_by_id]
            _ask(point, checkers, "verify", ctx.permit.no)
        state = STATE_LABELS[point.state]
        ctx.detail = (f"点位 {tag} 已列入隔离清单（与 {'、'.join(p.no for p in permits_of(point) if p.id != ctx.permit.id)}"
                      f" 共用，{state}）" if joined else f"点位 {label(point)}已隔离，待第二人确认")
    return run(permit_no, "isolate", body, by=by, now=now)


def _point(tag: str) -> IsolationPoint:
    point = open_point(tag.strip())
    if point is None:
        raise NotFound(f"没有未解除的隔离点位 {tag}")
    return point


def verify(tag: str, *, by: Person, permit_no: str | None = None, channel: str = "cli",
           now: datetime | None = None) -> str:
    """Confirm, as a second person, that the point is isolated (隔离确认); return what to tell."""
    now = now or utcnow()
    with transaction():
        point = _point(tag)
        permits = permits_of(point, still_open=True)
        if permit_no and permit_no not in {p.no for p in permits_of(point)}:
            raise InvalidPermit(f"点位 {point.tag} 不在作业票 {permit_no} 的隔离清单中")
        if point.state != "isolated":
            who = point.verified_by.name if point.verified_by_id else "—"
            raise GateNotMet(f"点位 {point.tag} {STATE_LABELS[point.state]}（确认人 {who}），无需再确认")
        if by.id == point.isolated_by_id:
            raise NotAuthorized(f"隔离须由第二人确认：{by.name}是点位 {point.tag} 的隔离人")
        if not any(_may_act(by, p) for p in permits):
            raise NotAuthorized(f"{by.name}与点位 {point.tag} 所属的作业票无关，不能确认隔离")
        point.state, point.verified_by, point.verified_at = "verified", by, now
        point.save()
        _audit_each(point, permits, by=by, action="verify_isolation", data={"channel": channel}, at=now)
        _settle(point, "verify", permits[0].no if permits else None)
    return f"点位 {point.tag} 隔离已确认"


def assign_release(point: IsolationPoint, *, at: datetime) -> Person | None:
    """Mark the point due for release and ask its isolator (or the unit's head) to sign it."""
    people = [point.isolated_by] if point.isolated_by.active else []
    if not people:
        heads = assign._holders("基层单位负责人", {point.unit_id}) or assign._holders("安全员", None)
        people = heads[:1]
    if not people:
        return None
    point.state, point.release_to = "releasing", people[0]
    point.save()
    _ask(point, people, "release", None)
    _audit_each(point, permits_of(point), by=None, action="release_assigned",
                data={"release_to": people[0].label()}, at=at)
    return people[0]


def release(tag: str, *, by: Person, channel: str = "cli", now: datetime | None = None) -> str:
    """Sign the release of a point (解除隔离) once no permit that depends on it is open."""
    now = now or utcnow()
    with transaction():
        point = _point(tag)
        still = permits_of(point, still_open=True)
        if still:
            raise GateNotMet(f"点位 {point.tag} 不能解除隔离：作业票 {'、'.join(p.no for p in still)} 尚未关闭")
        if blind_in_place(point):
            raise GateNotMet(f"盲板 {point.tag} 仍在管线上：须办理盲板抽堵（抽）作业票抽除后，方可解除")
        allowed = {point.isolated_by_id, point.release_to_id}
        if by.id not in allowed and not ("基层单位负责人" in by.role_names() and by.department_id == point.unit_id):
            raise NotAuthorized(f"点位 {point.tag} 的解除隔离应由 {point.release_to.name if point.release_to_id else point.isolated_by.name} 签字")
        permits = permits_of(point)
        point.state, point.released_by, point.released_at = "released", by, now
        point.save()
        _audit_each(point, permits, by=by, action="release_isolation", data={"channel": channel}, at=now)
        _settle(point, "release", None)
    return f"点位 {point.tag} 已解除隔离（锁 {point.lock_no}）"


def photo_permit(tag: str, *, by: Person) -> tuple[IsolationPoint, Permit]:
    """Return the open point of this tag and the open permit of it that by is on, to file its photo under.

    A point's photo is evidence of its lock and tag for every permit sharing it; it is filed under one
    of them that the sender works on, as a permit's own photos are.
    """
    point = _point(tag)
    mine = [p for p in permits_of(point, still_open=True) if by.id in machine.involved(p)]
    if not mine:
        raise NotAuthorized(f"{by.name}与点位 {point.tag} 所属的作业票无关，不能上传隔离照片")
    return point, mine[0]


def add_photo(tag: str, *, by: Person, data: bytes, filename: str = "photo.jpg", channel: str = "cli",
              now: datetime | None = None) -> str:
    """File a photo of the point's lock and tag (the newest one counts); return what to tell."""
    now = now or utcnow()
    with transaction():
        point, permit = photo_permit(tag, by=by)
        work.attach(permit.no, by=by, kind=f"隔离点位 {point.tag}"[:32], data=data, filename=filename, now=now)
        photo = (Attachment.select().where((Attachment.permit == permit) & (Attachment.uploaded_by == by))
                 .order_by(Attachment.id.desc()).first())
        point.photo = photo
        point.save()
        _audit_each(point, permits_of(point, still_open=True), by=by, action="isolation_photo",
                    data={"attachment": photo.id, "sha256": photo.sha256, "channel": channel}, at=now)
    return f"照片已作为点位 {point.tag} 的隔离照片保存（归入作业票 {permit.no}）"
