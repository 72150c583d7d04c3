"""Render a neutral Card as the variables of the DingTalk card template (docs/dingtalk.md).

One template serves every kind; what differs is which variables are filled. DingTalk takes every
cardParamMap value as a string (docs/dingtalk.md "Interactive cards"), so lists go in as JSON text.
"""
from __future__ import annotations

import json
import re

from .actions import option_id
from .card import DANGER, PRIMARY, Card

MAX_BUTTONS = 6           # the same ceiling as WeCom's button_interaction, so a card reads the same on both
MAX_OPTIONS = 20
OUT_TRACK_ID = re.compile(r"[0-9A-Za-z_\-@.]{1,128}")
STYLES = {PRIMARY: "primary", DANGER: "danger"}


def render(card: Card) -> dict:
    """Return {"outTrackId", "cardParamMap"} for createAndDeliver."""
    return {"outTrackId": _out_track_id(card), "cardParamMap": params(card)}


def render_update(card: Card) -> dict:
    """Return the cardParamMap that turns a delivered card into card (updated by its outTrackId).

    Unlike WeCom, an update is not a single-use code but the same instance's variables: every key
    is written, so no button of the old state survives on a settled card.
    """
    return params(card)


def params(card: Card) -> dict[str, str]:
    if len(card.buttons) > MAX_BUTTONS:
        raise ValueError(f"{len(card.buttons)} buttons: the card template holds at most {MAX_BUTTONS}")
    if len(card.checklist) > MAX_OPTIONS:
        raise ValueError(f"{len(card.checklist)} checklist items: the card template holds at most {MAX_OPTIONS}")
    keys = [b.key for b in card.buttons]
    if len(set(keys)) != len(keys):
        raise ValueError("button keys must be unique")
    interactive = bool(card.buttons)
    urgent = card.kind == "stop" or (card.kind == "alarm" and bool(card.emphasis))
    values = {
        "kind": card.kind,
        "title": card.title,
        "subtitle": card.subtitle,
        "notice": card.notice,
        "emphasis": card.emphasis or ("立即停止作业" if card.kind == "stop" else ""),
        "urgent": "true" if urgent else "false",
        "fields": _json([{"name": f.name, "value": f.value} for f in card.fields]),
        "buttons": _json([{"id": b.key, "text": b.label, "style": STYLES.get(b.style, "normal")}
                          for b in card.buttons]),
        "checklist": _json([{"id": option_id(i), "text": item} for i, item in enumerate(card.checklist)]),
        "checklist_key": card.checklist_key,
        "url": card.url,
        "links": _json([{"title": link.title, "url": link.url} for link in card.links]),
        "status": "open" if interactive else "settled",
    }
    return values


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _out_track_id(card: Card) -> str:
    if not OUT_TRACK_ID.fullmatch(card.task_id):
        raise ValueError(f"outTrackId {card.task_id!r} is not 1–128 of [0-9A-Za-z_-@.]")
    return card.task_id
