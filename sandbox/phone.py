"""The phone view: one page per member showing their chat with the app as the WeCom client would.

  GET /phone                  选择一个人: every member, with a link to their phone
  GET /phone/<user>           the chat, a text box, a photo button; cards are clickable
  GET /phone/<user>/chat      the message list alone (HTML), which the page swaps in when
                              /sandbox/messages?user=U&both=1 changes
  GET /phone/<user>/scan      扫一扫: ?url=<what the QR code holds> opens it as that member's WeCom
                              client would, so the page's OAuth (/connect/oauth2/authorize) knows who

The page acts through the admin endpoints (/sandbox/click, /sandbox/text, /sandbox/image), so a
click from the phone is the same encrypted template_card_event a test would post. Everything is
rendered by Jinja with autoescaping: card text comes from the app and is never trusted as HTML.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request

from sandbox.wecom_state import WecomState

phone = Blueprint("phone", __name__, template_folder="templates")

TIME_GAP = 300  # seconds; like the client, show the time again after five quiet minutes
# Who holds the phone that opened a page: the WeCom client knows it; the sandbox keeps it in a cookie
# that its OAuth page reads (a browser shares cookies between the ports of one host, which is fine here).
SCANNER_COOKIE = "wecom_sandbox_user"


def _state() -> WecomState:
    return current_app.extensions["wecom_sandbox"]


def _member_or_404(user: str) -> str:
    member = _state().member(user)
    if member is None:
        abort(404, description=f"{user} 不是本企业成员")
    return member


@phone.app_template_filter("web_url")
def web_url(url) -> str | None:
    """Return url if it is an http(s) link, else None (a javascript: URL from the app is not a link)."""
    if not isinstance(url, str):
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def _clock(at: float, now: float) -> str:
    shown, today = time.localtime(at), time.localtime(now)
    same_day = shown[:3] == today[:3]
    return time.strftime("%H:%M" if same_day else "%m月%d日 %H:%M", shown)


def _summary(entry: dict) -> str:
    if entry["msgtype"] == "template_card":
        title = ((entry["state"]["card"] or {}).get("main_title") or {}).get("title")
        return f"[卡片] {title or ''}".strip()
    if entry["msgtype"] in ("text", "markdown"):
        return entry["content"].get("content", "")
    return {"image": "[图片]", "file": "[文件]"}.get(entry["msgtype"], f"[{entry['msgtype']}]")


def _timeline(entries: list[dict], now: float) -> list[dict]:
    """Interleave the chat entries with the time stamps the client shows between them."""
    rows, last = [], None
    for entry in entries:
        if last is None or entry["sent_at"] - last > TIME_GAP:
            rows.append({"kind": "time", "text": _clock(entry["sent_at"], now)})
        last = entry["sent_at"]
        rows.append({"kind": "entry", "entry": entry})
    return rows


def _chat_context(member: str) -> dict:
    state = _state()
    entries = state.messages(member, both_ways=True)
    return {"user": member, "name": state.names.get(member, ""), "rows": _timeline(entries, state.now())}


@phone.get("/phone")
def index():
    """List the members, each a link to their phone."""
    state = _state()
    people = []
    for user in sorted(state.users.values()):
        entries = state.messages(user, both_ways=True)
        people.append({"user": user, "name": state.names.get(user, ""), "count": len(entries),
                       "last": _summary(entries[-1]) if entries else ""})
    return render_template("phone/index.html", people=people)


@phone.get("/phone/<user>")
def chat_page(user: str):
    """Show one member's chat with the app, with a text box and a photo button."""
    return render_template("phone/chat.html", **_chat_context(_member_or_404(user)))


@phone.get("/phone/<user>/chat")
def chat_list(user: str):
    """Render only the message list, for the page to swap in."""
    return render_template("phone/messages.html", **_chat_context(_member_or_404(user)))


@phone.get("/phone/<user>/scan")
def scan(user: str):
    """Open what a QR code holds as user's WeCom client would; without ?url=, ask for it."""
    member = _member_or_404(user)
    url = request.args.get("url", "").strip()
    context = {"user": member, "name": _state().names.get(member, ""), "url": url, "error": ""}
    if not url:
        return render_template("phone/scan.html", **context)
    if web_url(url) is None:
        context["error"] = "二维码内容不是 http(s) 网址"
        return render_template("phone/scan.html", **context), 400
    answer = redirect(url)
    answer.set_cookie(SCANNER_COOKIE, member, httponly=True, samesite="Lax")
    return answer
