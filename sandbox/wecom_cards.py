"""The message and template-card field rules WeCom applies in message/send (docs/wecom.md §2)."""
from __future__ import annotations

import re

from sandbox.wecom_errors import ApiError, ClickRefused

TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
INTERACTIVE = ("button_interaction", "vote_interaction", "multiple_interaction")
CARD_TYPES = ("text_notice", "news_notice", *INTERACTIVE)
MEDIA_TYPES = ("image", "file")
TEXT_LIMIT = 2048  # bytes, text and markdown


def _bad(detail: str) -> ApiError:
    # The platform answers 40058 "invalid Request Parameter" with a hint naming the field.
    return ApiError(40058, detail)


def _nbytes(value) -> int:
    return len(str(value).encode("utf-8"))


def _text(obj, name: str, *, limit: int | None = None, where: str) -> str:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{name} required")
    if limit is not None and _nbytes(value) > limit:
        raise _bad(f"{where}.{name} longer than {limit} bytes")
    return value


def _list(obj, name: str, *, most: int, where: str) -> list:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, list) or not value:
        raise _bad(f"{where}.{name} required")
    if len(value) > most:
        raise _bad(f"{where}.{name} has {len(value)} items, at most {most}")
    return value


def _int_in(obj, name: str, allowed: tuple[int, ...], *, where: str) -> None:
    if name in obj:
        value = obj[name]
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            raise _bad(f"{where}.{name} must be one of {list(allowed)}")


def _object(card: dict, name: str) -> dict:
    value = card.get(name)
    if not isinstance(value, dict):
        raise _bad(f"{name} required")
    return value


def _card_action(card: dict) -> None:
    action = _object(card, "card_action")
    _int_in(action, "type", (1, 2), where="card_action")
    if action.get("type") not in (1, 2):
        raise _bad("card_action.type required")
    _text(action, "url" if action["type"] == 1 else "appid", where="card_action")


def _main_title(card: dict) -> None:
    _text(card.get("main_title"), "title", where="main_title")


def _options(options: list, *, where: str) -> list[str]:
    ids = []
    for i, option in enumerate(options):
        ids.append(_text(option, "id", limit=128, where=f"{where}[{i}]"))
        _text(option, "text", where=f"{where}[{i}]")
    if len(set(ids)) != len(ids):
        raise _bad(f"{where}.id duplicated")
    return ids


def _submit_button(card: dict) -> None:
    button = _object(card, "submit_button")
    _text(button, "text", where="submit_button")
    _text(button, "key", limit=1024, where="submit_button")


def _text_notice(card: dict) -> None:
    _card_action(card)
    title = (card.get("main_title") or {}).get("title") if isinstance(card.get("main_title"), dict) else None
    if not title and not card.get("sub_title_text"):
        raise _bad("main_title.title or sub_title_text required")


def _news_notice(card: dict) -> None:
    _card_action(card)
    _main_title(card)
    image = card.get("card_image") if isinstance(card.get("card_image"), dict) else {}
    area = card.get("image_text_area") if isinstance(card.get("image_text_area"), dict) else {}
    if not image.get("url") and not area.get("image_url"):
        raise _bad("card_image.url or image_text_area.image_url required")


def _button_interaction(card: dict) -> None:
    _main_title(card)
    keys = []
    for i, button in enumerate(_list(card, "button_list", most=6, where="card")):
        where = f"button_list[{i}]"
        if not isinstance(button, dict):
            raise _bad(f"{where} must be an object")
        _text(button, "text", where=where)
        _int_in(button, "style", (1, 2, 3, 4), where=where)
        _int_in(button, "type", (0, 1), where=where)
        if button.get("type") == 1:
            _text(button, "url", where=where)
        else:
            keys.append(_text(button, "key", limit=1024, where=where))
    if len(set(keys)) != len(keys):
        raise _bad("button_list.key duplicated")


def _vote_interaction(card: dict) -> None:
    _main_title(card)
    checkbox = _object(card, "checkbox")
    _text(checkbox, "question_key", limit=1024, where="checkbox")
    _options(_list(checkbox, "option_list", most=20, where="checkbox"), where="checkbox.option_list")
    _int_in(checkbox, "mode", (0, 1), where="checkbox")
    _submit_button(card)


def _multiple_interaction(card: dict) -> None:
    _main_title(card)
    keys = []
    for i, select in enumerate(_list(card, "select_list", most=3, where="card")):
        where = f"select_list[{i}]"
        keys.append(_text(select, "question_key", limit=1024, where=where))
        ids = _options(_list(select, "option_list", most=10, where=where), where=f"{where}.option_list")
        if "selected_id" in select and select["selected_id"] not in ids:
            raise _bad(f"{where}.selected_id not among its options")
    if len(set(keys)) != len(keys):
        raise _bad("select_list.question_key duplicated")
    _submit_button(card)


def _action_menu(card: dict) -> None:
    menu = _object(card, "action_menu")
    for i, action in enumerate(_list(menu, "action_list", most=3, where="action_menu")):
        _text(action, "text", where=f"action_menu.action_list[{i}]")
        _text(action, "key", limit=1024, where=f"action_menu.action_list[{i}]")


RULES = {"text_notice": _text_notice, "news_notice": _news_notice, "button_interaction": _button_interaction,
         "vote_interaction": _vote_interaction, "multiple_interaction": _multiple_interaction}


def calls_back(card: dict) -> bool:
    """Tell whether a card can produce a callback (and so needs a task_id and a callback URL)."""
    return card.get("card_type") in INTERACTIVE or "action_menu" in card


def check_card(card, *, has_callback: bool) -> None:
    """Refuse a template_card the platform would refuse; task_id uniqueness is the caller's job."""
    if not isinstance(card, dict):
        raise _bad("template_card required")
    if card.get("card_type") not in CARD_TYPES:
        raise _bad(f"card_type {card.get('card_type')!r} not supported")
    task_id = card.get("task_id")
    if calls_back(card) or task_id is not None:
        if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
            raise ApiError(42014, "task_id must be 1-128 of [0-9A-Za-z_-@]")
    if calls_back(card) and not has_callback:
        raise ApiError(43012, "interactive cards need the app's callback URL")
    if "action_menu" in card:
        _action_menu(card)
    RULES[card["card_type"]](card)


def check_message(body: dict, *, has_callback: bool) -> tuple[str, dict]:
    """Return (msgtype, the msgtype's object) of a valid message/send body, or raise."""
    msgtype = body.get("msgtype")
    if msgtype == "template_card":
        check_card(body.get("template_card"), has_callback=has_callback)
        return msgtype, body["template_card"]
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype in ("text", "markdown"):
        if not isinstance(payload, dict) or not isinstance(payload.get("content"), str) or not payload["content"]:
            raise ApiError(44004, f"{msgtype}.content required")
        if _nbytes(payload["content"]) > TEXT_LIMIT:
            raise ApiError(45002, f"{msgtype}.content longer than {TEXT_LIMIT} bytes")
        return msgtype, payload
    if msgtype in MEDIA_TYPES:
        if not isinstance(payload, dict) or not payload.get("media_id"):
            raise ApiError(41006, f"{msgtype}.media_id required")
        return msgtype, payload
    raise ApiError(40008, f"msgtype {msgtype!r} not supported by the sandbox")


def click_items(card: dict, key: str, selected: dict) -> tuple[str, list]:
    """Return (Event, SelectedItems) for a click on key, or refuse a click the client can't make."""
    menu = [a.get("key") for a in (card.get("action_menu") or {}).get("action_list", [])]
    if key in menu:
        return "template_card_menu_event", []
    ctype = card["card_type"]
    if ctype == "button_interaction":
        if key not in [b.get("key") for b in card["button_list"] if b.get("type", 0) == 0]:
            raise ClickRefused(f"no callback button with key {key!r} on this card")
        return "template_card_event", []
    if ctype not in ("vote_interaction", "multiple_interaction") or key != card["submit_button"]["key"]:
        raise ClickRefused(f"key {key!r} is not on this card")
    if ctype == "vote_interaction":
        box = card["checkbox"]
        ids = [o["id"] for o in box["option_list"]]
        unknown = set(selected) - {box["question_key"]}
        chosen = selected.get(box["question_key"], [o["id"] for o in box["option_list"] if o.get("is_checked")])
        if unknown or not set(chosen) <= set(ids) or (box.get("mode", 0) == 0 and len(chosen) > 1):
            raise ClickRefused("selection not possible on this checkbox")
        return "template_card_event", [(box["question_key"], list(chosen))]
    items, known = [], {s["question_key"] for s in card["select_list"]}
    if set(selected) - known:
        raise ClickRefused("selection names an unknown question_key")
    for select in card["select_list"]:
        ids = [o["id"] for o in select["option_list"]]
        chosen = selected.get(select["question_key"], [select.get("selected_id", ids[0])])
        if len(chosen) != 1 or chosen[0] not in ids:
            raise ClickRefused(f"pick exactly one option of {select['question_key']}")
        items.append((select["question_key"], list(chosen)))
    return "template_card_event", items
