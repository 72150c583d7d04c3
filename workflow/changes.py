"""Change requests (作业变更): asked by the applicant, approved on cards, applied only once approved.

While a change waits, the permit stays exactly as it was issued and keeps running: nothing of the
change touches it before the last approver agrees. A refusal therefore leaves the permit as it was
and never rejects it; a refused extension leaves it valid until its original end.
"""
from __future__ import annotations

from datetime import datetime

import settings
from models import ChangeRequest, Outbox, Person, database
from models.permit import Permit

from . import assign, drafts, machine
from .clock import local
from .errors import AlreadySigned, InvalidPermit, InvalidTransition, NotAuthorized, NotFound
from .machine import Ctx, Outcome, run
from .schema import COORDINATE
from .states import IN_PROGRESS

PENDING = "pending"
# What a change may touch. Content, scope and location may not change: that needs a new permit.
CHANGEABLE = ("planned_start", "planned_end", "crew", "guardians", "measures")
LABELS = {"planned_start": "开始时间", "planned_end": "结束时间", "crew": "作业人", "guardians": "监护人",
          "measures": "安全措施"}
ROLES = {"crew": "作业人", "guardians": "监护人"}
STATE_LABELS = {PENDING: "待审批", "approved": "已同意", "rejected": "未同意", "void": "已作废"}


def _put(permit: Permit, record: dict, side: int) -> None:
    """Set the permit's changed fields to the old (side 0) or new (side 1) values of record."""
    for key, pair in record.items():
        value = pair[side]
        if key in ("planned_start", "planned_end"):
            setattr(permit, key, datetime.fromisoformat(value))
        elif key in ROLES:
            people = {p.id: p for p in Person.select().where(Person.id.in_(value))}
            drafts.set_members(permit, ROLES[key], [people[i] for i in value])
        elif key == "measures":
            permit.attributes = {**permit.attributes, "measures": value}


def _record(permit: Permit, changes: dict) -> dict:
    """Return {field: [old, new]} in the JSON form the change request keeps."""
    record = {}
    for key, value in changes.items():
        if key in ("planned_start", "planned_end"):
            record[key] = [getattr(permit, key).isoformat(), value.isoformat()]
        elif key in ROLES:
            record[key] = [[p.id for p in machine.members(permit, ROLES[key])], [p.id for p in value]]
        else:
            record[key] = [permit.attributes.get("measures", []), list(value)]
    return record


def _check(ctx: Ctx) -> None:
    """Refuse the permit as it now stands if its people or window break a rule or change its grade."""
    drafts.check_members(ctx.template, ctx.permit, now=ctx.now)
    grade, _ = drafts.check_window(ctx.template, ctx.permit, ctx.now)
    if grade != ctx.permit.grade:
        raise InvalidPermit(f"变更后作业级别由{ctx.permit.grade}变为{grade}，须重新办理作业票")


def _try(ctx: Ctx, record: dict) -> None:
    """Judge the permit as the change would make it, and leave it as it was."""
    permit = ctx.permit
    kept = {k: getattr(permit, k) for k in ("planned_start", "planned_end", "attributes")}
    with database.atomic() as trial:
        _put(permit, record, 1)
        _check(ctx)
        trial.rollback()
    for key, value in kept.items():
        setattr(permit, key, value)


def _route(ctx: Ctx) -> list[str]:
    """Return the approval steps that approved the permit: the same levels approve its change."""
    return [s.key for s in machine.steps(ctx.permit)
            if s.phase == "approve" and s.state == "done" and s.key != COORDINATE]


def approvers(ctx: Ctx, change: ChangeRequest) -> list[Person]:
    """Return who may approve the change at its current stage (never the applicant)."""
    step = ctx.template.step(change.route[change.stage])
    return [p for p in assign.resolve(step, ctx.permit) if p.id != ctx.permit.applicant_id]


def _ask(ctx: Ctx, change: ChangeRequest) -> list[Person]:
    people = approvers(ctx, change)
    if not people:
        name = ctx.template.step(change.route[change.stage]).name
        raise InvalidPermit(f"“{name}”无人可审批本次变更：组织架构中没有可用的审批人")
    for person in people:
        _card(change, person, str(change.stage))
    return people


def _card(change: ChangeRequest, person: Person, side: str) -> None:
    (Outbox.insert(permit_no=change.permit.no, person=person, kind="change",
                   payload={"kind": "change", "change": change.id, "side": side},
                   dedupe_key=f"change:{change.id}:{side}:{person.id}")
     .on_conflict_ignore().execute())


def describe(change: ChangeRequest, tz=None) -> list[tuple[str, str]]:
    """Return each changed field as (label, "old → new") in words a person reads."""
    tz = tz or settings.current().plant_tz
    lines = []
    for key, (old, new) in change.changes.items():
        if key in ("planned_start", "planned_end"):
            shown = [f"{local(datetime.fromisoformat(v), tz):%m-%d %H:%M}" for v in (old, new)]
        elif key in ROLES:
            names = {p.id: p.name for p in Person.select().where(Person.id.in_(old + new))}
            shown = ["、".join(names[i] for i in ids) or "—" for ids in (old, new)]
        else:
            shown = ["；".join(v) or "—" for v in (old, new)]
        lines.append((LABELS.get(key, key), f"{shown[0]} → {shown[1]}"))
    return lines


def request(permit_no: str, *, by: Person, changes: dict, reason: str,
            now: datetime | None = None) -> Outcome:
    """Ask to change time, people or measures; the permit stays as it is until the change is approved."""
    def body(ctx: Ctx) -> None:
        permit = ctx.permit
        if by.id != permit.applicant_id:
            raise NotAuthorized("变更申请须由申请人提出")
        if ctx.now >= permit.planned_end:
            raise InvalidTransition("作业票已过有效期，不能变更或延期，按 GB 30871-2022 须重新办理作业票")
        forbidden = set(changes) - set(CHANGEABLE)
        if forbidden:
            raise InvalidPermit("作业内容、范围或地点变更，须重新办理作业票（GB 30871-2022 4.12）"
                                f"：{'、'.join(sorted(forbidden))}")
        if not changes or not reason.strip():
            raise InvalidPermit("请填写变更内容和理由")
        if "planned_start" in changes and permit.started_at:
            raise InvalidPermit("已开工的作业票不能变更开始时间")
        if ChangeRequest.select().where((ChangeRequest.permit == permit)
                                        & (ChangeRequest.state == PENDING)).exists():
            raise InvalidPermit(f"作业票 {permit.no} 已有一项变更待审批，审批完成后再申请")
        record = _record(permit, changes)
        if all(old == new for old, new in record.values()):
            raise InvalidPermit("变更内容与作业票现有内容相同")
        _try(ctx, record)
        route = _route(ctx)
        if not route:
            raise InvalidPermit("作业票没有审批步骤，无法审批变更")
        change = ChangeRequest.create(permit=permit, requested_by=by, changes=record, reason=reason.strip(),
                                      from_step=route[0], prior_state=permit.state, created_at=ctx.now,
                                      route=route, stage=0, decisions=[])
        people = _ask(ctx, change)
        ctx.bump = False
        ctx.data = {"change": change.id, "changes": record, "reason": reason, "route": route}
        ctx.detail = (f"变更申请已提交，等待 {'、'.join(p.name for p in people)} 审批；"
                      "审批通过前按原作业票执行")
    return run(permit_no, "request_change", body, by=by, now=now)


def _open(change_id: int) -> ChangeRequest:
    change = ChangeRequest.get_or_none(ChangeRequest.id == change_id)
    if change is None:
        raise NotFound("没有这项变更申请")
    return change


def pending(permit_no: str) -> ChangeRequest:
    """Return the permit's change waiting for approval, or refuse naming that there is none."""
    change = (ChangeRequest.select().join(Permit).where((Permit.no == permit_no)
                                                         & (ChangeRequest.state == PENDING)).first())
    if change is None:
        raise NotFound(f"作业票 {permit_no} 没有待审批的变更")
    return change


def decide(change_id: int, *, by: Person, approve: bool, reason: str = "", channel: str = "cli",
           now: datetime | None = None) -> Outcome:
    """Approve (同意变更) or refuse (不同意) a change at its current stage; the last approval applies it."""
    permit_no = _open(change_id).permit.no

    def body(ctx: Ctx) -> None:
        change = ChangeRequest.get_by_id(change_id)   # read again under the permit's lock
        if change.state != PENDING:
            raise AlreadySigned(f"本次变更已{STATE_LABELS[change.state]}，无需再审批")
        if not approve and not reason.strip():
            raise InvalidPermit("请填写不同意的理由")
        if by.id == ctx.permit.applicant_id:
            raise NotAuthorized("申请人不能审批自己的变更")
        people = approvers(ctx, change)
        step = ctx.template.step(change.route[change.stage])
        if by.id not in {p.id for p in people}:
            raise NotAuthorized(f"{by.name}不是本次变更“{step.name}”的审批人，应由 "
                                f"{'、'.join(p.name for p in people)} 审批")
        done = change.decisions or []
        if any(d["stage"] == change.stage and d["person"] == by.id for d in done):
            raise AlreadySigned("您已审批过本次变更")
        done = done + [{"stage": change.stage, "step": step.key, "person": by.id, "name": by.name,
                        "decision": "approve" if approve else "reject", "comment": reason.strip(),
                        "channel": channel, "at": ctx.now.isoformat()}]
        change.decisions = done
        ctx.data = {"change": change.id, "stage": change.stage, "step": step.key,
                    "decision": "approve" if approve else "reject", "comment": reason.strip(),
                    "channel": channel}
        ctx.bump = False
        if not approve:
            _settle(change, people, "rejected", ctx)
            until = local(ctx.permit.planned_end, settings.current().plant_tz)
            ctx.tell([ctx.permit.applicant], "info",
                     f"{ctx.permit.no} 变更未获同意（{by.name}：{reason.strip()}）。"
                     f"作业票按原内容继续有效，至 {until:%m-%d %H:%M}")
            ctx.detail = "已不同意本次变更，作业票按原内容继续有效"
            return
        signed = {d["person"] for d in done if d["stage"] == change.stage and d["decision"] == "approve"}
        if step.mode != "any" and not signed >= {p.id for p in people}:
            change.save()
            ctx.detail = "已同意，等待其他会签人"
            return
        _settle(change, people, None, ctx)
        if change.stage + 1 < len(change.route):
            change.stage += 1
            change.save()
            nxt = _ask(ctx, change)
            ctx.detail = f"已同意，转 {'、'.join(p.name for p in nxt)} 审批"
            return
        _apply(ctx, change)
    return run(permit_no, "decide_change", body, by=by, now=now)


def _settle(change: ChangeRequest, people: list[Person], state: str | None, ctx: Ctx) -> None:
    """Turn this stage's open cards into the outcome; a final state ends the change."""
    if state is not None:
        change.state, change.decided_at = state, ctx.now
    change.save()
    for person in people:
        _card(change, person, f"settle-{change.stage}")


def _apply(ctx: Ctx, change: ChangeRequest) -> None:
    permit = ctx.permit
    working = set(p.id for p in machine.crew_and_guardians(permit)) if permit.state == IN_PROGRESS else set()
    _put(permit, change.changes, 1)
    _check(ctx)   # a certificate may have run out while the change waited
    change.state, change.decided_at = "approved", ctx.now
    change.save()
    ctx.bump = True   # the permit itself changed: cards showing the old content are stale
    now_on = machine.crew_and_guardians(permit)
    removed = [p for p in Person.select().where(Person.id.in_(working - {p.id for p in now_on}))]
    ctx.tell(removed, "stop", f"{permit.no} 变更已生效：您已不在本作业票人员中，请立即停止作业并离开现场")
    text = f"{permit.no} 变更已生效：" + "；".join(f"{k} {v}" for k, v in describe(change))
    ctx.tell([permit.applicant] + now_on, "info", text)
    ctx.detail = "变更已全部审批同意并生效"


def void_pending(permit: Permit, now: datetime) -> None:
    """End the permit's waiting change: the permit it would change has ended."""
    ChangeRequest.update(state="void", decided_at=now).where(
        (ChangeRequest.permit == permit) & (ChangeRequest.state == PENDING)).execute()
