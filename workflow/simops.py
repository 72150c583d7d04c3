"""交叉作业: live permits whose places and time windows overlap, judged by the conflict matrix."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations_with_replacement
from pathlib import Path

from models import Step
from models.area import parents
from models.permit import Permit

from . import machine, places, template as templates
from .errors import GateNotMet, InvalidPermit, TemplateError
from .machine import Ctx
from .states import IN_APPROVAL, IN_PROGRESS, ISSUED, RECTIFYING, SUSPENDED
from .template import COORDINATE, INSERTED_STEPS

CONFLICTS_FILE = Path(__file__).with_name("conflicts.toml")
ALLOWED, COORDINATOR, FORBIDDEN = "allowed", "coordinator", "forbidden"
RULES = (ALLOWED, COORDINATOR, FORBIDDEN)
LABELS = {ALLOWED: "允许", COORDINATOR: "须协调", FORBIDDEN: "禁止"}
# Permits whose crews are, or may soon be, at work: completed and accepted ones have left the site.
LIVE = (IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, RECTIFYING)


class Conflict(InvalidPermit):
    """The permit meets another live permit of a type it may not work beside."""


class ConflictAtApproval(GateNotMet):
    """At approval, the permit meets another live permit of a type it may not work beside."""


def load(path: Path = CONFLICTS_FILE, codes: tuple[str, ...] | None = None) -> dict[frozenset, str]:
    """Read the conflict matrix; every pair of work types must be given once, with a known rule."""
    codes = tuple(templates.registry()) if codes is None else codes
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path.name}: not valid TOML: {exc}") from None
    matrix: dict[frozenset, str] = {}
    for first, row in raw.items():
        if first not in codes or not isinstance(row, dict):
            raise TemplateError(f"{path.name}: [{first}] is not a work type ({', '.join(codes)})")
        for second, rule in row.items():
            if second not in codes:
                raise TemplateError(f"{path.name}: {first}.{second}: {second} is not a work type")
            if rule not in RULES:
                raise TemplateError(f"{path.name}: {first}.{second} = {rule!r}: use one of {', '.join(RULES)}")
            pair = frozenset((first, second))
            if pair in matrix:
                raise TemplateError(f"{path.name}: {first} × {second} is given twice")
            matrix[pair] = rule
    missing = [f"{a} × {b}" for a, b in combinations_with_replacement(codes, 2) if frozenset((a, b)) not in matrix]
    if missing:
        raise TemplateError(f"{path.name}: no rule for {', '.join(missing)}")
    return matrix


@lru_cache(maxsize=1)
def matrix() -> dict[frozenset, str]:
    """Return the shipped conflict matrix, loaded and checked once per process."""
    return load()


def rule(first: str, second: str) -> str:
    """Return what may happen when permits of these two work types overlap."""
    return matrix()[frozenset((first, second))]


@dataclass(frozen=True)
class Meeting:
    other: Permit
    rule: str


def meetings(permit: Permit) -> list[Meeting]:
    """Return the other live permits whose place and time window overlap permit's, oldest first."""
    parent_of = parents()
    others = (Permit.select().where((Permit.id != permit.id) & Permit.state.in_(LIVE)
                                    & (Permit.planned_start < permit.planned_end)
                                    & (Permit.planned_end > permit.planned_start))
              .order_by(Permit.id))
    return [Meeting(other, rule(permit.work_type, other.work_type)) for other in others
            if places.meets(permit, other, parent_of)]


def describe(other: Permit) -> str:
    """Name a permit the way a refusal or a card shows it: number, type, place, crew leader."""
    crew = machine.members(other, "作业人")
    leader = f"，作业负责人 {crew[0].name}" if crew else ""
    return f"{other.no}（{templates.get(other.work_type).name}，{other.location}{leader}）"


def _forbidden_text(permit: Permit, found: list[Meeting]) -> str:
    names = "；".join(describe(m.other) for m in found)
    return (f"{templates.get(permit.work_type).name}与同一区域、同一时段的 {names} 不得交叉作业"
            f"（交叉作业规定：禁止）。请错开时间或地点")


def _record(found: list[Meeting], stage: str) -> dict:
    """Return what goes into the audit chain: the decision and the other permits' numbers."""
    decision = max((m.rule for m in found), key=RULES.index) if found else ALLOWED
    return {"stage": stage, "decision": decision,
            "permits": {m.other.no: m.rule for m in found}}


def _needing(found: list[Meeting]) -> list[str]:
    return [m.other.no for m in found if m.rule == COORDINATOR]


def _coordinator(permit: Permit, needing: list[str]):
    who = places.coordinator_of(permit)
    if who is None or not who.active:
        raise InvalidPermit(f"与 {'、'.join(needing)} 交叉作业须有协调人，但作业地点所在区域未设协调人："
                            f"请修改草稿写明“协调人: 账号”")
    if who.id == permit.applicant_id:
        raise InvalidPermit("申请人不能兼任本作业票的交叉作业协调人，请另指定协调人")
    return who


def _place_step(permit: Permit) -> Step:
    """Put the coordination step, pending, just before the permit's first approval."""
    d = INSERTED_STEPS[COORDINATE]
    row = Step.get_or_none((Step.permit == permit) & (Step.key == COORDINATE)) \
        or Step(permit=permit, key=COORDINATE, name=d.name, phase=d.phase, seq=0)
    row.state, row.completed_at = "pending", None
    ordered = [s for s in machine.steps(permit) if s.key != COORDINATE]
    first = next(i for i, s in enumerate(ordered) if s.phase == "approve")
    for seq, step in enumerate(ordered[:first] + [row] + ordered[first:], start=1):
        if step.seq != seq or step is row:
            step.seq = seq
            step.save()
    return row


def _note(ctx: Ctx, coordinate: list[str]) -> None:
    ctx.permit.attributes = {**ctx.permit.attributes, "simops_coordinated": coordinate}


def on_submit(ctx: Ctx) -> dict:
    """Refuse a forbidden overlap; insert the coordination step where one is needed. Return the audit record."""
    permit = ctx.permit
    found = meetings(permit)
    forbidden = [m for m in found if m.rule == FORBIDDEN]
    if forbidden:
        raise Conflict(_forbidden_text(permit, forbidden))
    needing = _needing(found)
    coordinate = Step.get_or_none((Step.permit == permit) & (Step.key == COORDINATE))
    if needing:
        _coordinator(permit, needing)
        _place_step(permit)
    elif coordinate is not None:
        coordinate.state = "skipped"
        coordinate.save()
    _note(ctx, needing)
    return _record(found, "submit") if found else {}


def on_approve(ctx: Ctx, step: Step) -> tuple[bool, dict]:
    """Check again before an approval counts; return (sent to the coordinator first, the audit record).

    A permit that met nobody at submit may meet a permit submitted since: forbidden refuses the
    approval, and a new overlap that needs coordination sends the permit to its coordinator first.
    """
    permit = ctx.permit
    found = meetings(permit)
    forbidden = [m for m in found if m.rule == FORBIDDEN]
    if forbidden:
        raise ConflictAtApproval(_forbidden_text(permit, forbidden))
    needing = _needing(found)
    covered = set(permit.attributes.get("simops_coordinated") or ())
    coordinate = Step.get_or_none((Step.permit == permit) & (Step.key == COORDINATE))
    settled = coordinate is not None and coordinate.state == "done" and set(needing) <= covered
    if not needing or settled:
        return False, (_record(found, "approve") if found else {})
    who = _coordinator(permit, needing)
    _note(ctx, sorted(covered | set(needing)))
    waiting = machine.assignees(step)
    step.state, step.remind_at, step.escalate_at = "pending", None, None
    step.save()
    machine.activate(ctx, _place_step(permit))
    ctx.data = {"step": step.key, "simops": _record(found, "approve")}
    ctx.detail = f"与 {'、'.join(needing)} 交叉作业，已转协调人 {who.name} 协调，协调后再审批"
    ctx.tell(waiting, "info", f"{permit.no}“{step.name}”暂缓：{ctx.detail}")
    return True, ctx.data["simops"]


def overlapping_lines(permit: Permit) -> list[str]:
    """Return one line per overlapping live permit, for the approver's card and the board."""
    return [f"{LABELS[m.rule]}：{describe(m.other)}" for m in meetings(permit)]
