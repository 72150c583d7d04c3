"""What an export covers: a period, and optionally one work type, one unit and one state."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from models import Department
from models.permit import Permit
from workflow import template as templates
from workflow.errors import NotFound
from workflow.states import LABELS

from .period import Period, PeriodError


class ScopeError(PeriodError):
    """A filter names no work type, unit or state; the message lists what may be named."""


@dataclass(frozen=True)
class Scope:
    period: Period
    work_type: str | None = None    # template code
    unit: str | None = None         # department code
    state: str | None = None        # state code (workflow.states)

    def describe(self) -> str:
        """Return the filters in Chinese, or "" when the export covers everything in the period."""
        parts = []
        if self.work_type:
            parts.append(f"作业类型：{templates.get(self.work_type).name}")
        if self.unit:
            department = Department.get_or_none(Department.code == self.unit)
            parts.append(f"单位：{department.name if department else self.unit}")
        if self.state:
            parts.append(f"状态：{LABELS[self.state]}")
        return "筛选 " + "，".join(parts) if parts else ""

    def permits(self, tz: ZoneInfo):
        """Return the condition on Permit: permits ever submitted, planned to start in the period, filtered."""
        start, end = self.period.bounds(tz)
        # A draft never submitted is nobody's work yet; one returned for revision was, and stays listed.
        return ((Permit.planned_start >= start) & (Permit.planned_start < end) & Permit.submitted_at.is_null(False)
                & self.filters())

    def filters(self):
        """Return the condition on Permit of the type, unit and state filters alone."""
        condition = Permit.id.is_null(False)
        if self.work_type:
            condition &= Permit.work_type == self.work_type
        if self.unit:
            condition &= Permit.unit == Department.get(Department.code == self.unit).id
        if self.state:
            condition &= Permit.state == self.state
        return condition

    @property
    def filtered(self) -> bool:
        return bool(self.work_type or self.unit or self.state)


def work_type(text: str) -> str:
    """Return the template code a type's code or Chinese name stands for."""
    try:
        return templates.get(text.strip()).code
    except NotFound:
        names = "、".join(t.name for t in templates.registry().values())
        raise ScopeError(f"没有“{text}”这种作业类型，可选：{names}") from None


def unit(text: str) -> str:
    """Return the department code a code or a unique name stands for."""
    text = text.strip()
    if Department.get_or_none(Department.code == text):
        return text
    named = list(Department.select().where(Department.name == text))
    if len(named) != 1:
        why = "有多个部门叫这个名字，请写部门编码" if named else "没有这个部门编码或部门名称"
        raise ScopeError(f"单位“{text}”：{why}")
    return named[0].code


def state(text: str) -> str:
    """Return the state code a Chinese label (已关闭) or code (closed) stands for."""
    text = text.strip()
    for code, label in LABELS.items():
        if text in (code, label):
            return code
    choices = "、".join(LABELS.values())
    raise ScopeError(f"没有“{text}”这种状态，可选：{choices}")


def from_words(period: Period, words: Iterable[str]) -> Scope:
    """Read filters typed in chat after the period, each word a work type, a unit or a state."""
    found: dict[str, str] = {}
    for word in words:
        for name, reader in (("work_type", work_type), ("state", state), ("unit", unit)):
            try:
                value = reader(word)
            except ScopeError:
                continue
            if name in found:
                raise ScopeError(f"“{word}”：同一类筛选只能写一个")
            found[name] = value
            break
        else:
            raise ScopeError(f"“{word}”不是作业类型、单位或状态")
    return Scope(period, **found)
