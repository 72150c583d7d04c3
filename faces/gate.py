"""Which signatures need a face check, and whether the signer's selfie has passed one."""
from __future__ import annotations

from datetime import datetime, timedelta

import settings
from models import FaceCheck, FaceEnrolment, Person, Step, StepAssignee, utcnow
from models.face import CHECKING, ENROL, PASSED, SIGN, WAITING
from models.permit import Permit
from workflow import template as templates

FRESH = timedelta(minutes=30)   # a passed check unlocks the signature for this long


def required(work_type: str, step_key: str) -> bool:
    """A step needs a face check when its template says so or the plant's FACE_CHECK_STEPS names it."""
    step = templates.get(work_type).step(step_key)
    return step.gates.face_check or f"{work_type}.{step_key}" in settings.current().face_check_steps


def _latest(person: Person, permit: Permit, step: Step) -> FaceCheck | None:
    return (FaceCheck.select().where((FaceCheck.person == person) & (FaceCheck.purpose == SIGN)
                                     & (FaceCheck.permit == permit) & (FaceCheck.step_key == step.key)
                                     & (FaceCheck.round == step.round))
            .order_by(FaceCheck.id.desc()).first())


def problems(permit: Permit, *, step: str, person: Person, at: datetime) -> list[str]:
    """The "face_check" hook: refuse the signature until a fresh selfie of person's has matched."""
    if FaceEnrolment.get_or_none(FaceEnrolment.person == person) is None:
        return [f"“{step_name(permit, step)}”须人脸核验，但 {person.name} 尚未采集人脸，请联系管理员发送“采集人脸 账号”"]
    current = Step.get((Step.permit == permit) & (Step.key == step))
    check = _latest(person, permit, current)
    if check is not None and check.state == CHECKING:
        return ["人脸核验中，请稍候再签字"]
    if check is not None and check.state == PASSED and at - check.decided_at <= FRESH:
        return []
    return [f"“{current.name}”须人脸核验：{how_to_selfie()}，核验通过后再签字"]


def how_to_selfie() -> str:
    """Say how a signer gives the selfie: in chat where the plant allows it, else through the camera page."""
    if settings.current().face_chat_selfies:
        return "请先在对话中发送一张本人自拍照"
    return "请在对话中发送“自拍”，打开回复的链接用相机现场自拍"


def step_name(permit: Permit, step_key: str) -> str:
    return templates.get(permit.work_type).step(step_key).name


def awaiting(person: Person) -> FaceCheck | Step | None:
    """Return what a photo from person is for: a waiting enrolment request, a step to sign, or neither."""
    request = (FaceCheck.select().where((FaceCheck.person == person) & (FaceCheck.purpose == ENROL)
                                        & (FaceCheck.state == WAITING)).first())
    if request is not None:
        return request
    steps = (Step.select(Step, Permit).join(Permit).switch(Step)
             .join(StepAssignee, on=((StepAssignee.step == Step.id) & (StepAssignee.round == Step.round)))
             .where((Step.state == "active") & (StepAssignee.person == person))
             .order_by(Step.activated_at.desc()))
    for step in steps:
        if required(step.permit.work_type, step.key):
            check = _latest(person, step.permit, step)
            if check is None or check.state != PASSED or utcnow() - check.decided_at > FRESH:
                return step
    return None
