"""Render a neutral Card as a WeCom template_card (docs/wecom.md §2) and as its update (§3)."""
from __future__ import annotations

import re

from .actions import option_id
from .card import Card

MAX_BUTTONS = 6
MAX_OPTIONS = 20
MAX_HORIZONTAL = 6
MAX_JUMPS = 3            # jump_list: at most three links
MAX_KEY_BYTES = 1024
KEYNAME_CHARS = 5        # WeCom shows at most about five characters of a horizontal keyname
VALUE_CHARS = 30         # ... and about thirty of its value
SUBTITLE_CHARS = 160     # sub_title_text: "建议不超过160个字"
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
SIGNERS_FIELD = "已签"   # too long for a horizontal row: it goes into the sub-title text
SOURCE = "电子作业票"
RED = 2                  # source.desc_color: 0 grey, 1 black, 2 red, 3 green


def render(card: Card) -> dict:
    """Return the template_card object of message/send for card."""
    if card.kind in ("sign", "alarm", "progress"):
        # progress too: only an interaction card gets a response_code, without which it cannot be updated.
        return _button_interaction(card)
    if card.kind == "checklist":
        return _vote_interaction(card)
    return _text_notice(card, task_id=True)


def render_update(card: Card) -> dict:
    """Return the card part of an update_template_card body that replaces a clicked card with card.

    docs/wecom.md §3 allows two forms: button.replace_name, which only greys the buttons out under
    a short label, or template_card, which replaces the whole card with any type. The outcome must
    say who signed and when ("已由 张三 于 10:42 同意") and keep the permit's facts on screen, which
    a button label cannot hold, so the whole card is replaced by a text_notice. The caller adds
    userids, agentid and the single-use response_code.
    """
    if card.kind == "progress":
        # A job's progress card is updated in place and keeps its 刷新进度 button (same task_id).
        return {"template_card": _button_interaction(card)}
    if card.kind not in ("notice", "stop", "outcome"):
        # A card a person can still act on is sent afresh with its own task_id; an update only
        # settles a card, so nobody clicks a dead one.
        raise ValueError(f"a {card.kind} card is sent, not used as an update")
    return {"template_card": _text_notice(card)}


def _common(card: Card, *, sub_title: bool = True) -> dict:
    urgent = card.kind == "stop" or (card.kind == "alarm" and card.emphasis)
    body = {"source": {"desc": SOURCE, "desc_color": RED if card.kind in ("stop", "alarm") else 0},
            "main_title": {"title": card.title, **({"desc": card.subtitle} if card.subtitle else {})}}
    if urgent:
        body["emphasis_content"] = {"title": card.emphasis or "立即停止作业", "desc": "撤离现场，等待通知"}
    rows = [f for f in card.fields if f.name != SIGNERS_FIELD][:MAX_HORIZONTAL]
    body["horizontal_content_list"] = [
        {"keyname": f.name[:KEYNAME_CHARS], "value": _clip(f.value, VALUE_CHARS)} for f in rows]
    text = _sub_title(card)
    if sub_title and text:
        body["sub_title_text"] = text
    if card.url:
        body["card_action"] = {"type": 1, "url": card.url}
    return body


def _sub_title(card: Card) -> str:
    lines = [card.notice] if card.notice else []
    signers = card.field(SIGNERS_FIELD)
    if signers and signers != "—":
        lines.append(f"已签：{signers}")
    return _clip("\n".join(lines), SUBTITLE_CHARS)


def _button_interaction(card: Card) -> dict:
    if len(card.buttons) > MAX_BUTTONS:
        raise ValueError(f"{len(card.buttons)} buttons: WeCom allows at most {MAX_BUTTONS}")
    _check_keys([b.key for b in card.buttons])
    for b in card.buttons:
        if not 1 <= b.style <= 4:
            raise ValueError(f"button style {b.style} is not 1–4")
    return {"card_type": "button_interaction", **_common(card), "task_id": _task_id(card),
            "button_list": [{"type": 0, "text": b.label, "style": b.style, "key": b.key}
                            for b in card.buttons]}


def _vote_interaction(card: Card) -> dict:
    if len(card.checklist) > MAX_OPTIONS:
        raise ValueError(f"{len(card.checklist)} checklist items: a WeCom vote card holds at most "
                         f"{MAX_OPTIONS}")
    submit = card.buttons[0]
    _check_keys([card.checklist_key])
    _check_keys([submit.key])
    # A vote card has a submit button only: the step's other actions (card.buttons[1:], 退回修改 and
    # 驳回) have no place on it. Whether vote_interaction takes horizontal_content_list and
    # sub_title_text is [unverified]; the permit's number and step are in main_title either way.
    body = _common(card)
    # A permit's step names the permit; an inspection round (no 编号) names what it inspects.
    desc = (f"{card.field('编号')} {card.field('类型')} · 已等待 {card.field('已等待')}" if card.field("编号")
            else card.subtitle)
    body["main_title"] = {"title": card.title, "desc": desc}
    return {"card_type": "vote_interaction", **body, "task_id": _task_id(card),
            "checkbox": {"question_key": card.checklist_key, "mode": 1,
                         "option_list": [{"id": option_id(i), "text": item, "is_checked": False}
                                         for i, item in enumerate(card.checklist)]},
            "submit_button": {"text": submit.label, "key": submit.key}}


def _text_notice(card: Card, *, task_id: bool = False) -> dict:
    if not card.url:
        raise ValueError("a WeCom text_notice needs card_action: give the card a url (the permit's board)")
    body = _common(card)
    if "sub_title_text" not in body and not card.title:
        raise ValueError("a WeCom text_notice needs main_title.title or sub_title_text")
    if card.links:
        # WeCom documents jump_list for text_notice (and news_notice) only, so only notices carry links.
        body["jump_list"] = [{"type": 1, "title": link.title, "url": link.url} for link in card.links[:MAX_JUMPS]]
    # A sent notice carries its task id although WeCom does not ask for one: a resend after a
    # worker died is then refused as a duplicate (42014) instead of reaching the person twice.
    return {"card_type": "text_notice", **body, **({"task_id": _task_id(card)} if task_id else {})}


def _task_id(card: Card) -> str:
    if not TASK_ID.fullmatch(card.task_id) or len(card.task_id.encode()) > 128:
        raise ValueError(f"task_id {card.task_id!r} is not 1–128 of [0-9A-Za-z_-@]")
    return card.task_id


def _check_keys(keys: list[str]) -> None:
    if len(set(keys)) != len(keys):
        raise ValueError("button keys must be unique")
    for key in keys:
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ValueError(f"button key must be 1–{MAX_KEY_BYTES} bytes")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
