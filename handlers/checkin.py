"""On-site check-in: the page a scan of the permit's site QR code opens inside WeCom.

WeCom opens the page through its OAuth redirect with a one-time code; the code, resolved through
auth/getuserinfo, says who scanned. The QR code itself, its signed token and the board page come
with issue #8.
"""
from __future__ import annotations

from html import escape

from flask import Blueprint, Response, request

import settings
from bot.base import PlatformError
from bot.registry import wecom_adapter
from models import Person
from workflow import WorkflowError, engine
from workflow.clock import local

bp = Blueprint("checkin", __name__)
PAGE = """<!doctype html><html lang="zh"><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>现场签到</title>
<body style="font-family:sans-serif;max-width:30em;margin:2em auto;padding:0 1em">
<h2 style="color:{color}">{title}</h2><p>{text}</p></body></html>"""


def _page(status: int, title: str, text: str) -> Response:
    color = "#1a7f37" if status == 200 else "#c62828"
    return Response(PAGE.format(color=color, title=escape(title), text=escape(text)), status=status,
                    mimetype="text/html")


@bp.get("/checkin/<permit_no>")
def checkin(permit_no: str):
    code = request.args.get("code", "")
    adapter = wecom_adapter()
    if not code or adapter is None:
        return _page(400, "请在企业微信中扫码", "请用企业微信扫描作业现场的二维码完成签到。")
    try:
        user_id = adapter.user_from_oauth_code(code)
    except PlatformError:
        return _page(403, "无法确认身份", "二维码链接已失效或不是本企业成员，请重新扫码。")
    person = Person.get_or_none((Person.wecom_userid == user_id) & (Person.active == True))  # noqa: E712
    if person is None:
        return _page(403, "不在组织架构中", f"账号 {user_id} 不在本厂组织架构中或已停用。")
    try:
        engine.check_in(permit_no, by=person, source="scan")
    except WorkflowError as exc:
        return _page(409, "签到未成功", exc.message)
    from models import CheckIn
    at = local(CheckIn.select().order_by(CheckIn.id.desc()).first().at, settings.current().plant_tz)
    return _page(200, "签到成功", f"{person.name} 于 {at:%m-%d %H:%M} 在 {permit_no} 作业现场签到，30 分钟内有效。")
