"""A neutral description of one message card; the renderers turn it into platform JSON."""
from __future__ import annotations

from dataclasses import dataclass

# sign: 同意 / 驳回 / 确认 buttons; checklist: tick every item, then 提交; notice: for information;
# stop: stop work now (urgent); outcome: the step was settled ("已由 张三 于 10:42 同意");
# alarm: a gas-detector alarm with its one button, 确认收到; progress: a long job (an export) under
# way, with its one button, 刷新进度.
KINDS = ("sign", "checklist", "notice", "stop", "outcome", "alarm", "progress")
# Button looks, in WeCom's numbering (1–4): primary, danger, secondary.
PRIMARY, DANGER, SECONDARY = 1, 2, 3


@dataclass(frozen=True)
class Button:
    label: str
    key: str
    style: int = PRIMARY


@dataclass(frozen=True)
class Field:
    name: str
    value: str


@dataclass(frozen=True)
class Link:
    """A further link on a card (e.g. 现场二维码), beside the one the whole card opens."""
    title: str
    url: str


@dataclass(frozen=True)
class Card:
    kind: str
    task_id: str
    title: str
    subtitle: str
    fields: tuple[Field, ...]
    buttons: tuple[Button, ...]
    # checklist cards: the items to tick and the key of the question; buttons[0] submits the ticks,
    # any further buttons are the step's other actions (退回修改, 驳回).
    checklist: tuple[str, ...] = ()
    checklist_key: str = ""
    url: str = ""
    notice: str = ""
    emphasis: str = ""   # alarm cards: the big red words (e.g. 立即停止作业) where work must stop
    links: tuple[Link, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown card kind {self.kind!r}")
        if self.kind == "checklist" and not (self.checklist and self.checklist_key):
            raise ValueError("a checklist card needs its items and a checklist_key")
        if self.kind in ("notice", "stop", "outcome") and self.buttons:
            raise ValueError(f"a {self.kind} card has no buttons")
        if self.kind in ("sign", "checklist") and not self.buttons:
            raise ValueError(f"a {self.kind} card needs a button")
        if self.kind == "alarm" and len(self.buttons) != 1:
            raise ValueError("an alarm card has exactly one button, 确认收到")
        if self.kind == "progress" and len(self.buttons) != 1:
            raise ValueError("a progress card has exactly one button, 刷新进度")

    def field(self, name: str) -> str:
        """Return the value of the field called name, or "" when the card has none."""
        return next((f.value for f in self.fields if f.name == name), "")
