"""A finding's flow: found → assigned → rectifying → rectified → re-checked → closed, or back to rectifying.

Every command is one transaction that changes the finding, appends the audit event and queues
whom to tell; a refused command raises a WorkflowError and changes nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import settings
from models import Person, transaction, utcnow
from models.db import for_update
from models.hazard import (ASSIGNED, CLOSED, FOUND, GRADES, MAJOR, ORDINARY, RECTIFIED, RECTIFYING,
                           SOURCE_CHAT, STATE_NAMES, Finding, FindingPhoto)
from park.enterprises import media_folder
from workflow import audit, places
from workflow.clock import local
from workflow.errors import WorkflowError, InvalidPermit, InvalidTransition, NotAuthorized, NotFound
from workflow.machine import actor
from workflow.numbering import next_number
from workflow.suspension import SAFETY_ROLES

from . import notify

MAX_PHOTO_BYTES = 20 * 1024 * 1024
STAGE_FOUND, STAGE_RECTIFIED = "发现", "整改"


@dataclass(frozen=True)
class Options:
    """What a report may say besides place and description (lines of “字段: 值”)."""
    grade: str = ORDINARY
    category: str = ""
    blocks_permits: bool = False


def when(moment: datetime | None) -> str:
    """Show a stored time in the plant's zone, to the minute."""
    return local(moment, settings.current().plant_tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def get(no: str, *, lock: bool = False) -> Finding:
    """Return the finding by number; refuse an unknown one by name."""
    query = Finding.select().where(Finding.no == (no or "").strip().upper())
    found = (for_update(query) if lock else query).first()
    if found is None:
        raise NotFound(f"没有编号为 {no} 的隐患")
    return found


def _event(finding: Finding, by: Person | None, action: str, now: datetime, *, via: str | None = None,
           **data) -> None:
    # Through another door (the API), the door is the actor and the person stays in the data.
    if via:
        data = {**data, "by": actor(by)}
    audit.append(permit_no=None, actor=via or actor(by), action=f"hazard_{action}",
                 data={"finding": finding.no, "state": finding.state, **data}, at=now)


def _is_safety(person: Person, finding: Finding) -> bool:
    return bool(SAFETY_ROLES & person.role_names()) or notify.officer_of(finding.area) == person


def place_of(words: str) -> tuple:
    """Return (area node or None, place as written, the rest) from "区域 描述"; refuse a place not in the tree."""
    parts = (words or "").split(maxsplit=1)
    name, rest = (parts + ["", ""])[:2]
    if not name:
        raise InvalidPermit("请写明地点和隐患描述，例如：隐患 3#罐区 东侧消防通道被堵塞")
    if not places.has_tree():
        return None, name, rest.strip()
    area = places.node_named(name)
    if area is None:
        near = places.suggestions(name)
        hint = f"最接近的是：{'、'.join(near)}" if near else "请先导入区域表"
        raise InvalidPermit(f"地点“{name}”不在本厂区域表中，{hint}")
    return area, area.name, rest.strip()


def report(words: str, *, by: Person, options: Options = Options(), source: str = SOURCE_CHAT,
           via: str | None = None, now: datetime | None = None) -> Finding:
    """Record a finding at the place the words start with; tell the area's safety officer (重大: the department)."""
    now = now or utcnow()
    area, place, description = place_of(words)
    if not description:
        raise InvalidPermit("请写明隐患描述，例如：隐患 3#罐区 东侧消防通道被堵塞")
    if options.grade not in GRADES:
        raise InvalidPermit(f"等级只能是 {' / '.join(GRADES)}")
    if options.blocks_permits and options.grade != MAJOR:
        raise InvalidPermit("只有重大隐患可以停止该区域办理新的作业票")
    with transaction():
        finding = Finding.create(no=next_number("YH", local(now, settings.current().plant_tz).date()),
                                 area=area, place=place, description=description[:2000], grade=options.grade,
                                 category=options.category[:32], source=source, state=FOUND, found_by=by,
                                 found_at=now, blocks_permits=options.blocks_permits)
        _event(finding, by, "found", now, via=via, place=place, grade=finding.grade, blocks=finding.blocks_permits)
        officer = notify.officer_of(area)
        head = f"{'【重大隐患】' if finding.grade == MAJOR else ''}{finding.no} {place}：{finding.description}"
        notify.tell([officer] if officer else notify.safety_department(),
                    f"新隐患 {head}（{by.name} 发现）\n请指派整改：指派 {finding.no} 责任人账号 2026-11-25 18:00",
                    f"{finding.no}:found")
        if finding.grade == MAJOR:
            hold = "；在关闭前该区域不能办理新的作业票" if finding.blocks_permits else ""
            notify.tell(notify.safety_department(), f"重大隐患报告：{head}（{by.name} 发现）{hold}",
                        f"{finding.no}:major")
    return finding


def assign(no: str, account: str, deadline: datetime, *, by: Person, now: datetime | None = None) -> Finding:
    """Name who rectifies it and by when; the deadline starts the reminder timer."""
    now = now or utcnow()
    from models import find_person
    with transaction():
        finding = get(no, lock=True)
        if finding.state not in (FOUND, ASSIGNED):
            raise InvalidTransition(f"{finding.no} {STATE_NAMES[finding.state]}，不能再指派")
        if not _is_safety(by, finding):
            raise NotAuthorized(f"{by.name}不是安全员或单位负责人，不能指派隐患整改")
        person = find_person(account)
        if person is None or not person.active:
            raise InvalidPermit(f"找不到在职人员：{account}")
        if deadline <= now:
            raise InvalidPermit(f"整改期限 {when(deadline)} 已过，请写将来的时间")
        finding.state, finding.responsible, finding.unit = ASSIGNED, person, person.department
        finding.assigned_by, finding.deadline = by, deadline
        finding.remind_at, finding.escalate_at, finding.escalation_level = deadline, None, 0
        finding.save()
        _event(finding, by, "assigned", now, responsible=person.label(), deadline=deadline.isoformat())
        notify.tell([person], f"请整改隐患 {finding.no} {finding.place}：{finding.description}\n"
                              f"整改期限 {when(deadline)}。开始整改请发送“开始整改 {finding.no}”，"
                              f"整改后发送现场照片，再发送“整改完成 {finding.no} 整改说明”",
                    f"{finding.no}:assigned:{person.id}:{deadline.isoformat()}")
    return finding


def _require_responsible(finding: Finding, by: Person) -> None:
    if finding.responsible_id != by.id:
        name = finding.responsible.name if finding.responsible else "指派的责任人"
        raise NotAuthorized(f"{finding.no} 的整改责任人是{name}，{by.name}不能办理")


def start(no: str, *, by: Person, now: datetime | None = None) -> Finding:
    """The responsible person takes the finding on."""
    now = now or utcnow()
    with transaction():
        finding = get(no, lock=True)
        if finding.state != ASSIGNED:
            raise InvalidTransition(f"{finding.no} {STATE_NAMES[finding.state]}，不能开始整改")
        _require_responsible(finding, by)
        finding.state = RECTIFYING
        finding.save()
        _event(finding, by, "rectifying", now)
    return finding


def photo_target(person: Person) -> Finding | None:
    """Return the finding a photo from person belongs to: one they rectify, else the newest they found."""
    rectifying = (Finding.select().where((Finding.responsible == person) & (Finding.state == RECTIFYING))
                  .order_by(Finding.id.desc()).first())
    if rectifying is not None:
        return rectifying
    return (Finding.select().where(Finding.found_by == person).order_by(Finding.id.desc()).first())


def add_photo(no: str, *, by: Person, data: bytes, suffix: str = ".jpg", now: datetime | None = None) -> FindingPhoto:
    """Keep a photo of the finding: as found (its finder) or as rectified (its responsible person)."""
    now = now or utcnow()
    if not data or len(data) > MAX_PHOTO_BYTES:
        raise InvalidPermit("照片为空或超过 20 MB")
    with transaction():
        finding = get(no, lock=True)
        if finding.state == CLOSED:
            raise InvalidTransition(f"{finding.no} 已关闭，不能再添加照片")
        if finding.state == RECTIFYING and finding.responsible_id == by.id:
            stage = STAGE_RECTIFIED
        elif finding.state in (FOUND, ASSIGNED) and finding.found_by_id == by.id:
            stage = STAGE_FOUND
        else:
            raise InvalidTransition(f"{finding.no} {STATE_NAMES[finding.state]}，{by.name}现在不能为它添加照片")
        digest = hashlib.sha256(data).hexdigest()
        relative = f"hazards/{digest[:2]}/{digest}{suffix[:10]}"
        target = media_folder() / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():   # content-addressed: the same bytes are stored once
            target.write_bytes(data)
        row = FindingPhoto.create(finding=finding, stage=stage, sha256=digest, size=len(data), path=relative,
                                  uploaded_by=by, created_at=now)
        _event(finding, by, "photo", now, stage=stage, sha256=digest)
    return row


def rectify(no: str, note: str, *, by: Person, now: datetime | None = None) -> Finding:
    """Report the rectification done, with its photos; the inspector is asked to re-check."""
    now = now or utcnow()
    with transaction():
        finding = get(no, lock=True)
        if finding.state != RECTIFYING:
            raise InvalidTransition(f"{finding.no} {STATE_NAMES[finding.state]}，不能报整改完成")
        _require_responsible(finding, by)
        photos = FindingPhoto.select().where((FindingPhoto.finding == finding)
                                             & (FindingPhoto.stage == STAGE_RECTIFIED)
                                             & (FindingPhoto.created_at >= (finding.rejected_at or finding.found_at)))
        if not photos.exists():
            raise InvalidPermit(f"请先发送整改后的现场照片，再报 {finding.no} 整改完成")
        finding.state, finding.rectified_at, finding.rectified_by = RECTIFIED, now, by
        finding.remind_at = finding.escalate_at = None
        finding.save()
        _event(finding, by, "rectified", now, note=note)
        inspector = finding.found_by or finding.assigned_by
        notify.tell([inspector], f"{finding.no} {finding.place} 已整改完成（{by.name}：{note or '无说明'}），请到现场复查：\n"
                                 f"复查 {finding.no} 通过 / 复查 {finding.no} 不通过 原因",
                    f"{finding.no}:rectified:{finding.rejections}")
    return finding


def recheck(no: str, passed: bool, reason: str = "", *, by: Person, now: datetime | None = None) -> Finding:
    """The inspector re-checks on site: close it, or send it back to rectifying with the reason."""
    now = now or utcnow()
    with transaction():
        finding = get(no, lock=True)
        if finding.state != RECTIFIED:
            raise InvalidTransition(f"{finding.no} {STATE_NAMES[finding.state]}，现在不能复查")
        if finding.rectified_by_id == by.id:
            raise NotAuthorized(f"{by.name}是 {finding.no} 的整改人，不能复查自己的整改")
        inspector = finding.found_by_id or finding.assigned_by_id
        if by.id != inspector and not _is_safety(by, finding):
            raise NotAuthorized(f"{by.name}不是 {finding.no} 的发现人或安全员，不能复查")
        if not passed and not reason:
            raise InvalidPermit(f"请写明不通过的原因：复查 {finding.no} 不通过 原因")
        finding.checked_by = by
        if passed:
            finding.state, finding.closed_at = CLOSED, now
            finding.remind_at = finding.escalate_at = None
            finding.save()
            _event(finding, by, "closed", now)
            notify.tell([finding.responsible], f"{finding.no} 复查通过，已关闭（{by.name}）", f"{finding.no}:closed")
            return finding
        finding.state, finding.rejections, finding.rejected_at = RECTIFYING, finding.rejections + 1, now
        finding.rectified_at = finding.rectified_by = None
        # Past its deadline already: due for a reminder at once, and the escalation goes on from there.
        finding.remind_at = max(finding.deadline, now) if finding.deadline else None
        finding.save()
        _event(finding, by, "rejected", now, reason=reason, round=finding.rejections)
        notify.tell([finding.responsible], f"{finding.no} 复查不通过（{by.name}）：{reason}\n"
                                           f"请重新整改，发送整改后的照片，再发送“整改完成 {finding.no} 整改说明”",
                    f"{finding.no}:rejected:{finding.rejections}")
    return finding


def photo_from_chat(person: Person, data: bytes) -> str:
    """Attach a photo sent in chat to the person's finding; return the answer in plain words."""
    target = photo_target(person)
    if target is None:
        return "收到照片，但您没有需要照片的作业票或隐患"
    try:
        row = add_photo(target.no, by=person, data=data)
    except WorkflowError as exc:
        return f"照片未保存：{exc.message}"
    # Numbered: WeCom drops a text identical to one sent in the last half hour, so a second photo's
    # answer must differ from the first's.
    count = FindingPhoto.select().where((FindingPhoto.finding == target) & (FindingPhoto.stage == row.stage)).count()
    return f"照片已作为 {target.no} 的{row.stage}照片保存（第 {count} 张）"
