"""The phone view in DingTalk's skin: one page per member showing their chat with the robot.

  GET /phone                  选择一个人: every member, with a link to their phone
  GET /phone/<user>           the chat with the robot, a text box, a photo button; cards are clickable
  GET /phone/<user>/chat      the message list alone (HTML), swapped in when /sandbox/messages changes
  GET /phone/<user>/scan      扫一扫: ?url= opens it as that member's DingTalk client would, so the
                              OAuth page (/oauth2/auth) knows who

The page acts through /sandbox/click, /sandbox/text and /sandbox/image, so a click from the phone is the
same card callback a test would deliver. Cards are drawn from the decoded cardParamMap (docs/dingtalk.md);
everything is rendered by Jinja with autoescaping: card text comes from the app and is never trusted.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request

from sandbox.phone import _timeline, web_url

dingtalk_phone = Blueprint("phone", __name__, template_folder="templates")

# Who holds the phone that opened a page: the DingTalk client knows it; the sandbox keeps it in a cookie
# its OAuth page reads. Its own name, so a browser that also used the WeCom sandbox is not confused.
SCANNER_COOKIE = "dingtalk_sandbox_user"


def _state():
    return current_app.extensions["dingtalk_sandbox"]


def _member_or_404(user: str) -> str:
    if _state().member(user) is None:
        abort(404, description=f"{user} 不是本组织成员")
    return user


@dingtalk_phone.app_template_filter("web_url")
def _web_url(url) -> str | None:
    return web_url(url)


def _summary(entry: dict) -> str:
    if entry["msgtype"] == "interactive_card":
        return f"[卡片] {entry['state']['card'].get('title') or ''}".strip()
    if entry["msgtype"] == "text":
        return entry["content"].get("content", "")
    if entry["msgtype"] == "markdown":
        return entry["content"].get("title", "")
    return {"picture": "[图片]", "image": "[图片]", "file": "[文件]"}.get(entry["msgtype"], f"[{entry['msgtype']}]")


def _chat_context(member: str) -> dict:
    state = _state()
    entries = state.messages(member, both_ways=True)
    return {"user": member, "name": state.names.get(member, ""), "rows": _timeline(entries, state.now())}


@dingtalk_phone.get("/phone")
def index():
    """List the members, each a link to their phone."""
    state = _state()
    people = []
    for user in sorted(state.users):
        entries = state.messages(user, both_ways=True)
        people.append({"user": user, "name": state.names.get(user, ""), "count": len(entries),
                       "last": _summary(entries[-1]) if entries else ""})
    return render_template("phone/dingtalk_index.html", people=people)


@dingtalk_phone.get("/phone/<user>")
def chat_page(user: str):
    """Show one member's chat with the robot, with a text box and a photo button."""
    return render_template("phone/dingtalk_chat.html", **_chat_context(_member_or_404(user)))


@dingtalk_phone.get("/phone/<user>/chat")
def chat_list(user: str):
    """Render only the message list, for the page to swap in."""
    return render_template("phone/dingtalk_messages.html", **_chat_context(_member_or_404(user)))


@dingtalk_phone.get("/phone/<user>/scan")
def scan(user: str):
    """Open what a QR code holds as user's DingTalk client would; without ?url=, ask for it."""
    member = _member_or_404(user)
    url = request.args.get("url", "").strip()
    context = {"user": member, "name": _state().names.get(member, ""), "url": url, "error": ""}
    if not url:
        return render_template("phone/dingtalk_scan.html", **context)
    if web_url(url) is None:
        context["error"] = "二维码内容不是 http(s) 网址"
        return render_template("phone/dingtalk_scan.html", **context), 400
    answer = redirect(url)
    answer.set_cookie(SCANNER_COOKIE, member, httponly=True, samesite="Lax")
    return answer
