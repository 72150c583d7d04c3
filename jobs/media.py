"""Photos sent in chat: download them from the platform and attach them where a step needs one."""
from __future__ import annotations

from peewee import JOIN

from models import Outbox, Person
from models.permit import Permit, PermitMember
from workflow import WorkflowError, gates, template as templates, work

IMAGE_KINDS_OPEN = ("draft", "in_approval", "issued", "in_progress", "suspended", "completed", "rectifying")


def _aim(person: Person) -> dict | None:
    """Return where a 照片 command aimed this person's next photo (a permit or a point), used up."""
    from models import Conversation
    aim = Conversation.get_or_none((Conversation.person == person) & (Conversation.intent == "photo"))
    if aim is None:
        return None
    aim.delete_instance()
    return aim.data


def _aimed(aim: dict | None) -> tuple[Permit, str, str | None] | None:
    """Return the permit, kind and step a 照片 编号 command aimed the photo at."""
    from workflow import machine
    if not aim or not aim.get("permit"):
        return None
    permit = Permit.get_or_none(Permit.no == aim["permit"])
    if permit is None:
        return None
    kind = aim.get("kind") or ""
    step = machine.active_step(permit)
    if not kind:
        wanted = gates.wanted_photos(permit, templates.get(permit.work_type), step.key if step else None)
        kind = wanted[0] if wanted else "现场"
    return permit, kind, step.key if step else None


def _wanted(person: Person) -> tuple[Permit, str, str | None] | None:
    """Return the newest permit of person's that still lacks a required photo, which kind, and the active step."""
    from workflow import machine
    mine = (Permit.select().join(PermitMember, JOIN.LEFT_OUTER, on=(PermitMember.permit == Permit.id))
            .where(((Permit.applicant == person) | (PermitMember.person == person))
                   & Permit.state.in_(list(IMAGE_KINDS_OPEN)))
            .order_by(Permit.id.desc()).distinct())
    for permit in mine:
        step = machine.active_step(permit)
        wanted = gates.wanted_photos(permit, templates.get(permit.work_type), step.key if step else None)
        if wanted:
            return permit, wanted[0], step.key if step else None
    return None


def attach_photo(person_id: int, media_id: str, reply_key: str, platform: str = "wecom", caption: str = "") -> str:
    """Fetch the photo (from the platform it was sent on) and attach it where needed; say where it went."""
    from bot.registry import channel
    person = Person.get_by_id(person_id)
    aim = _aim(person)
    if aim and aim.get("point"):
        return _point_photo(person, aim["point"], media_id, reply_key, platform)
    found = _aimed(aim) or _wanted(person)
    target = found[:2] if found else None
    step_key = found[2] if found else None
    if target is None:
        from hazards.findings import photo_from_chat, photo_target
        text = "收到照片，但您没有需要照片的作业票或隐患"
        if photo_target(person) is not None:
            text = photo_from_chat(person, channel(platform).fetch_media(media_id))
    else:
        permit, kind = target
        data = channel(platform).fetch_media(media_id)
        try:
            work.attach(permit.no, by=person, kind=kind, data=data, filename=f"{kind}.jpg", caption=caption,
                        step_key=step_key)
            text = f"照片已作为 {permit.no} 的“{kind}”照片保存" + (f"，附言“{caption}”已一并记录" if caption else "")
        except WorkflowError as exc:
            text = f"照片未保存：{exc.message}"
    return _reply(person, text, reply_key, permit_no=target[0].no if target else None)


def _point_photo(person: Person, tag: str, media_id: str, reply_key: str, platform: str) -> str:
    """File the photo as the isolation point's (照片 点位), and say so or why not."""
    from bot.registry import channel
    from isolation import points
    try:
        text = points.add_photo(tag, by=person, data=channel(platform).fetch_media(media_id),
                                filename=f"{tag}.jpg", channel=platform)
    except WorkflowError as exc:
        text = f"照片未保存：{exc.message}"
    return _reply(person, text, reply_key)


def _reply(person: Person, text: str, reply_key: str, *, permit_no: str | None = None) -> str:
    (Outbox.insert(permit_no=permit_no, person=person, kind="reply",
                   payload={"kind": "reply", "text": text}, dedupe_key=reply_key[:191])
     .on_conflict_ignore().execute())
    from .delivery import due_rows, enqueue
    enqueue(due_rows())
    return text
