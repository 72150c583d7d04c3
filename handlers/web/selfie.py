"""The selfie page: a face check's photo taken through the chat app's camera, never its album.

  GET  /selfie/<token>   the page, with the JS-SDK config of the app it is open in (camera APIs only)
  POST /selfie/<token>   {"platform", "media", "source", "captured_ms"}: what the camera call answered;
                         queues the face check and answers 202, or 4xx with the refusal in Chinese

The token (faces/live.py) names the person, permit, step and round; the face itself proves who took it.
A forged or lapsed token is a bare 404; a park enterprise's link names it (?e=) and opens on its
database. The JS-SDK is asked for the camera alone: WeCom's wx.chooseImage with sourceType ["camera"]
then wx.uploadImage (its serverId is a media_id), DingTalk's biz.util.uploadImageFromCamera (a link on
DingTalk's CDN) (docs/wecom.md, docs/dingtalk.md "JS-SDK").
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, render_template, request

from bot.base import PlatformError
from bot.registry import adapter_for
from faces.gate import required
from faces.live import ENTERPRISE, opened, path
from models import FaceCheck, Person, Step, StepAssignee
from models.face import CAMERA, CHECKING, SIGN
from models.permit import Permit

from .board import APP_NAME, _browser_app, _here, enter_enterprise, leave_enterprise

bp = Blueprint("selfie", __name__, template_folder="templates")
CAMERA_APIS = {"wecom": ("chooseImage", "uploadImage"), "dingtalk": ("biz.util.uploadImageFromCamera",)}
MAX_MEDIA_REF = 1000     # a media_id or a CDN link; anything longer is not one
LAST_MS = 4_102_444_800_000   # 2100-01-01 in ms: a later "capture time" is no clock's


@bp.before_request
def _enter_enterprise() -> None:
    enter_enterprise(request.args.get(ENTERPRISE))


bp.teardown_request(leave_enterprise)


def _target(token: str) -> tuple[Person, Permit, Step] | None:
    """Return whose selfie the token asks for and the step it unlocks, or None when the link is bad."""
    found = opened(token)
    if found is None:
        return None
    person = Person.get_or_none((Person.id == found["p"]) & (Person.active == True))  # noqa: E712
    permit = Permit.get_or_none(Permit.no == found["n"])
    if person is None or permit is None:
        return None
    step = Step.get_or_none((Step.permit == permit) & (Step.key == found["s"]))
    return None if step is None or step.round != found["r"] else (person, permit, step)


def _waiting(person: Person, permit: Permit, step: Step) -> str | None:
    """Return why the step no longer needs this selfie, or None when it does."""
    assigned = StepAssignee.select().where((StepAssignee.step == step) & (StepAssignee.round == step.round)
                                           & (StepAssignee.person == person)).exists()
    if step.state != "active" or not assigned or not required(permit.work_type, step.key):
        return f"“{step.name}”已无需您的人脸核验"
    return None


@bp.get("/selfie/<token>")
def page(token: str):
    """Show the camera button, with the signed camera-only JS-SDK config of the app the page is open in."""
    target = _target(token)
    if target is None:
        abort(404)
    person, permit, step = target
    problem = _waiting(person, permit, step)
    app = _browser_app()
    jsapi = None
    if problem is None and app is not None and adapter_for(app) is not None:
        try:
            jsapi = adapter_for(app).jsapi_config(_here() + request.full_path.rstrip("?"), CAMERA_APIS[app])
        except PlatformError:
            problem = f"{APP_NAME[app]}暂时无法打开相机，请稍后重新打开此链接"
    if problem is None and jsapi is None:
        problem = "请在企业微信或钉钉中打开此链接：人脸核验只接受其相机现场拍摄的照片"
    html = render_template("selfie/selfie.html", name=person.name, permit_no=permit.no, step=step.name,
                           problem=problem, jsapi=jsapi, platform=app, post_url=path(token))
    return Response(html, status=200 if problem is None else 409, mimetype="text/html")


def _refuse(status: int, text: str):
    return jsonify({"error": text}), status


@bp.post("/selfie/<token>")
def take(token: str):
    """Queue the face check of the photo the camera call produced; refuse an album picture or a bad post."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403)   # only the selfie page itself posts here
    target = _target(token)
    if target is None:
        abort(404)
    person, permit, step = target
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refuse(400, "请求格式错误：须为 JSON")
    platform, media, source = body.get("platform"), body.get("media"), body.get("source")
    if platform not in CAMERA_APIS or adapter_for(platform) is None:
        return _refuse(400, "未知的平台：请在企业微信或钉钉中打开自拍链接")
    if source != CAMERA:
        # Where the platform says the picture came from the album, it is not a live selfie.
        return _refuse(400, "相册中的照片不能用于人脸核验，请用相机现场自拍")
    if not isinstance(media, str) or not media or len(media) > MAX_MEDIA_REF:
        return _refuse(400, "没有收到照片，请重新拍摄")
    captured = body.get("captured_ms")
    if captured is not None and (not isinstance(captured, int) or isinstance(captured, bool)
                                 or not 0 < captured < LAST_MS):
        return _refuse(400, "拍摄时间格式错误")
    if problem := _waiting(person, permit, step):
        return _refuse(409, problem)
    busy = FaceCheck.select().where((FaceCheck.person == person) & (FaceCheck.permit == permit)
                                    & (FaceCheck.step_key == step.key) & (FaceCheck.round == step.round)
                                    & (FaceCheck.state == CHECKING)).exists()
    if busy:
        return _refuse(409, "上一张自拍照正在核验，请稍候")
    said = (datetime.fromtimestamp(captured / 1000, timezone.utc).replace(tzinfo=None)
            if captured is not None else None)
    check = FaceCheck.create(person=person, purpose=SIGN, permit=permit, step_key=step.key, round=step.round,
                             state=CHECKING, source=CAMERA, captured_at=said)
    from jobs.connection import queue
    from jobs.faces import check_face
    queue("default").enqueue(check_face, check.id, media, f"selfie:{check.id}", platform=platform, job_timeout=120)
    return jsonify({"text": "已收到自拍照，正在核验人脸，结果将在对话中通知您"}), 202
