"""Route a genuine, first-seen event to its handler; retries of the same event change nothing."""
from __future__ import annotations

import logging

from bot.base import Event
from models import Outbox, Person
from models.written import collecting
from workflow.machine import record_refusal

from .clicks import handle_click
from .commands import handle_text

log = logging.getLogger(__name__)


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
    try:
        with collecting() as written:
            result = _route(event)
        enqueue(Outbox.ids_written(written))
        return result
    except Exception:
        # Let the platform's retry find the event unseen: nothing was committed for it.
        redis.delete(f"seen:{event.dedupe_key}")
        raise


def _selfie(event: Event, person: Person) -> int | None:
    """Start a face check if the photo answers an enrolment request or a face-checked step; return its id."""
    from faces.gate import awaiting
    from jobs.faces import begin
    from .replies import Replier
    target = awaiting(person)
    if target is None:
        return None
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
    remember_platform(person, event.platform)
    if event.kind == "click":
        return handle_click(event, person)
    if event.kind == "text":
        return handle_text(event, person)
    if event.kind == "image":
        # Downloading is slow work: a job fetches the photo and answers.
        from jobs.connection import queue
        from jobs.media import attach_photo
        if (check_id := _selfie(event, person)) is not None:
            from jobs.faces import check_face
            queue("default").enqueue(check_face, check_id, event.media_id, f"reply:{event.dedupe_key}:face",
                                     platform=event.platform, job_timeout=120)
            return "selfie queued"
        queue("default").enqueue(attach_photo, person.id, event.media_id, f"reply:{event.dedupe_key}",
                                 platform=event.platform)
        return "photo queued"
    log.info("unhandled %s event from %s", event.kind, event.user_id)
    return f"ignored {event.kind}"
