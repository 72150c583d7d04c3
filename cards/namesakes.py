"""The card that asks which of two people of one name a message meant, and what it becomes once answered."""
from __future__ import annotations

from models import NameChoice, Person
from models.people import describe

from . import actions
from .card import SECONDARY, Button, Card, Field

MAX_CHOICES = 6   # both platforms' cards hold six buttons


def task_id(choice_id: int, person_id: int, serial: int | None = None) -> str:
    return f"pick-{choice_id}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _quoted(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:40] + ("…" if len(first) > 40 else "")


def pick_card(choice_id: int, *, person_id: int, serial: int | None = None) -> Card:
    """Return the card with one button per namesake: unit and the mobile's last 4 digits tell them apart."""
    choice = NameChoice.get_by_id(choice_id)
    if choice.chosen_id is not None:
        return chosen_card(choice_id, task_id=task_id(choice_id, person_id, serial))
    people = list(Person.select().where(Person.id.in_(choice.candidates)).order_by(Person.id))[:MAX_CHOICES]
    buttons = tuple(Button(f"{p.department.name} {p.mobile[-4:] if p.mobile else '无手机号'}",
                           actions.pick_key(choice.id, p.id), SECONDARY) for p in people)
    return Card(kind="sign", task_id=task_id(choice_id, person_id, serial), title=f"“{choice.token}”有 {len(people)} 人，请选择",
                subtitle=_quoted(choice.text), fields=tuple(Field(f"第 {i} 位", describe(p)) for i, p in enumerate(people, 1)),
                buttons=buttons, notice="点击所指的人；消息将按所选人员重新办理")


def chosen_card(choice_id: int, *, task_id: str) -> Card:
    """Return what the choice card becomes once someone was picked."""
    choice = NameChoice.get_by_id(choice_id)
    who = describe(choice.chosen) if choice.chosen_id else "（已失效）"
    return Card(kind="outcome", task_id=task_id, title=f"已选择：{who}", subtitle=_quoted(choice.text),
                fields=(), buttons=(), notice="已按所选人员办理")
