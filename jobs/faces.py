"""Selfies sent in chat: download, check against the enrolled face (or enrol), audit, and answer."""
from __future__ import annotations

import settings
from bot.base import PlatformError
from models import FaceCheck, FaceEnrolment, Outbox, Person, transaction, utcnow
from models.face import CAMERA, CHECKING, ENROL, PASSED, REFUSED, WAITING


def begin(person: Person, target) -> FaceCheck:
    """Record that a selfie of person's is being checked for target (an enrolment request or a Step)."""
    if isinstance(target, FaceCheck):
        target.state = CHECKING
        target.save()
        return target
    return FaceCheck.create(person=person, purpose="sign", permit=target.permit, step_key=target.key,
                            round=target.round, state=CHECKING)


def check_face(check_id: int, media_id: str, reply_key: str, platform: str = "wecom") -> str:
    """Fetch the selfie (from the platform it was sent on) and decide the check; say the outcome and why."""
    from bot.registry import adapter_for, channel
    from faces.enrol import enrol
    from faces.live import capture_time, judge
    from faces.match import FaceRefused, distance, encode
    from workflow import audit
    check = FaceCheck.get_by_id(check_id)
    if check.state != CHECKING:
        return f"already {check.state}"   # a retried job: decided before
    person, conf, measured = check.person, settings.current(), None
    try:
        try:
            data = (adapter_for(platform).fetch_camera_photo(media_id) if check.source == CAMERA
                    else channel(platform).fetch_media(media_id))
        except PlatformError as exc:
            # Decided either way rather than left "checking": the person can simply send another photo.
            raise FaceRefused("照片过大，请发送普通自拍照" if exc.code == "media_too_large"
                              else "照片不是钉钉相机上传的图片，请在自拍页面重新拍摄" if exc.code == "bad_media_url"
                              else "照片下载失败，请重新发送") from None
        if check.source == CAMERA:
            # The camera's own stamp first; the page's word only where the platform's copy lost it.
            check.captured_at = capture_time(data) or check.captured_at
            judge(check.captured_at, check.created_at)
        if check.purpose == ENROL:
            enrol(person, data, source="chat")
            passed, text = True, "人脸已采集，今后需人脸核验的签字将与此照片比对"
        else:
            enrolled = FaceEnrolment.get_or_none(FaceEnrolment.person == person)
            if enrolled is None:
                raise FaceRefused("您尚未采集人脸，请联系系统管理员发送“采集人脸 账号”")
            measured = distance(enrolled.encoding, encode(data, max_bytes=conf.face_max_bytes))
            passed = measured <= conf.face_tolerance
            text = (f"人脸核验通过（相似距离 {measured:.2f}），请在卡片上签字" if passed else
                    f"人脸核验未通过：与登记照片不符（相似距离 {measured:.2f}，须不大于 {conf.face_tolerance:.2f}）")
        reason = "" if passed else text
    except FaceRefused as exc:
        passed, reason = False, exc.reason
        text = (f"人脸采集未通过：{exc.reason}。请重新发送自拍照" if check.purpose == ENROL
                else f"人脸核验未通过：{exc.reason}")
    # A refused enrolment photo leaves the request waiting, so the next photo is tried for it.
    state = PASSED if passed else (WAITING if check.purpose == ENROL else REFUSED)
    with transaction():
        check.state, check.reason, check.distance, check.decided_at = state, reason[:200], measured, utcnow()
        check.save()
        permit_no = check.permit.no if check.permit_id else None
        audit.append(permit_no=permit_no, actor=person.label(), action="face_check",
                     data={"purpose": check.purpose, "step": check.step_key, "passed": passed,
                           "source": check.source,
                           "captured_at": check.captured_at.isoformat() if check.captured_at else None,
                           "distance": None if measured is None else round(measured, 4), "reason": reason},
                     at=check.decided_at)
        (Outbox.insert(permit_no=permit_no, person=person, kind="reply", dedupe_key=reply_key[:191],
                       payload={"kind": "reply", "text": text, "permit_no": permit_no})
         .on_conflict_ignore().execute())
    from .delivery import due_rows, enqueue
    enqueue(due_rows())
    return text
