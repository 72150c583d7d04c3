"""Route a genuine, first-seen event to its handler; retries of the same event change nothing."""
from __future__ import annotations

import logging

import settings
from bot.base import ANONYMOUS, Event
from models import Outbox, Person, Step
from models.db import Busy
from models.written import Written, collecting
from workflow.machine import record_refusal

from .clicks import handle_click, remember_response_code
from .namesakes import handle_click as namesake_click
from .commands import handle_text

log = logging.getLogger(__name__)

FAILED = "failed"                    # nothing of it was stored: a retry is handled afresh
FAILED_KEPT = "failed after commit"  # part of it was stored: a retry is a duplicate
REFUSED_SELFIE = -1                  # _selfie: the photo was for a signing face check, and refused


def _person(event: Event) -> Person | None:
    from bot.registry import ACCOUNT
    column = getattr(Person, ACCOUNT[event.platform])
    return Person.select().where((column == event.user_id) & (Person.active == True)).first()  # noqa: E712


def dispatch(event: Event, *, redis, enqueue) -> str:
    """Handle event once; enqueue delivery of whatever it wrote to the outbox; return what happened."""
    if event.kind == "unknown":
        # Named in the log and otherwise ignored: nothing is stored for an event we do not handle.
        log.info("ignored %s event %s from %s", event.platform, event.raw.get("Event") or event.raw.get("MsgType"),
                 event.user_id)
        return "ignored"
    if not redis.set(f"seen:{event.dedupe_key}", 1, nx=True, ex=event.dedupe_seconds):
        return "duplicate"
    written = Written()
    try:
        with collecting(written):
            result = _route(event)
    except Exception as exc:
        return _failed(event, written, exc, redis=redis, enqueue=enqueue)
    enqueue(Outbox.ids_written(written))
    return result


def _failed(event: Event, written: Written, exc: Exception, *, redis, enqueue) -> str:
    """Settle an event whose handling raised: keep it seen if anything of it was committed."""
    kept = Outbox.ids_written(written)
    if written.commits or kept:
        # Part of its work is stored: a retry must find the event seen, or it would be done twice.
        log.exception("%s event %s failed after a commit; kept as seen", event.platform, event.dedupe_key)
        enqueue(kept + _tell(event, "处理时出错，部分内容可能已保存。请发送“待办”或“查询 编号”查看后再操作"))
        return FAILED_KEPT
    redis.delete(f"seen:{event.dedupe_key}")
    if isinstance(exc, Busy):
        raise exc   # answered 503: the platform's retry finds the event unseen and gets through
    log.exception("%s event %s failed before any commit; forgotten", event.platform, event.dedupe_key)
    enqueue(_tell(event, "系统出错，本条消息未办理，请稍后重试"))
    return FAILED


def _tell(event: Event, text: str) -> list[int]:
    """Queue a generic refusal to the event's sender; return its outbox ids (none if that fails too)."""
    try:
        person = _person(event)
        if person is None:
            return []
        with collecting() as written:
            # A key of its own: the real answer of a successful retry must not collide with it.
            (Outbox.insert(permit_no=None, person=person, kind="reply",
                           payload={"kind": "reply", "text": text, "permit_no": None},
                           dedupe_key=f"reply:{event.dedupe_key}:failed"[:191])
             .on_conflict_ignore().execute())
        return Outbox.ids_written(written)
    except Exception:
        log.exception("could not tell %s that event %s failed", event.user_id, event.dedupe_key)
        return []


def _selfie(event: Event, person: Person) -> int | None:
    """Start a face check if the photo answers an enrolment request or a face-checked step; return its id."""
    from faces.gate import awaiting
    from jobs.faces import begin
    from .replies import Replier
    target = awaiting(person)
    if target is None:
        return None
    if isinstance(target, Step) and not settings.current().face_chat_selfies:
        # A chat photo may be an album picture of anyone's face, taken at any time: the signing
        # selfie comes from the camera page, which stamps when the camera took it.
        from faces.live import url
        Replier(event, person)("人脸核验未通过：对话中发送的照片可能来自相册，不能用于签字核验。"
                               f"请用手机打开以下链接，用相机现场自拍：{url(person, target.permit, target)}")
        return REFUSED_SELFIE
    check = begin(person, target)
    Replier(event, person)("已收到自拍照，正在核验人脸，请稍候……")
    return check.id


def _route(event: Event) -> str:
    person = _person(event)
    if person is None:
        record_refusal(None, by=None, command=event.kind, channel=event.platform,
                       reason=f"账号 {event.user_id} 不在本厂组织架构中或已停用")
        return "unknown person"
    from bot.registry import remember_platform
    if event.kind == "text":
        result = handle_text(event, person)
        if result != ANONYMOUS:   # even which app an anonymous reporter last used stays unrecorded
            remember_platform(person, event.platform)
        return result
    remember_platform(person, event.platform)
    if event.kind == "click":
        held = namesake_click(event, person)
        if held is None:
            return handle_click(event, person)
        remember_response_code(event)   # the choice card is settled with the click's fresh code
        return held if isinstance(held, str) else handle_text(held, person)
    if event.kind == "image":
        # Downloading is slow work: a job fetches the photo and answers.
        from jobs.connection import queue
        from jobs.media import attach_photo
        if (check_id := _selfie(event, person)) == REFUSED_SELFIE:
            return "chat selfie refused"
        if check_id is not None:
            from jobs.faces import check_face
            queue("default").enqueue(check_face, check_id, event.media_id, f"reply:{event.dedupe_key}:face",
                                     platform=event.platform, job_timeout=120)
            return "selfie queued"
        queue("default").enqueue(attach_photo, person.id, event.media_id, f"reply:{event.dedupe_key}",
                                 platform=event.platform, caption=event.text)
        return "photo queued"
    log.info("unhandled %s event from %s", event.kind, event.user_id)
    return f"ignored {event.kind}"
