"""Check a tool out and back by scanning its label, and the gate of a step that requires tools."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import settings
from models import Person, transaction
from models.db import for_update
from models.permit import Permit, PermitMember
from models.tool import Tool, ToolLoan
from workflow import audit
from workflow.clock import local
from workflow.errors import GateNotMet, InvalidTransition, NotAuthorized, NotFound


def today(at: datetime) -> date:
    """Return the plant-local day of the stored UTC moment at."""
    return local(at, settings.current().plant_tz).date()


def expired(tool: Tool, at: datetime) -> bool:
    """A tool may be used up to and including its due day."""
    return today(at) > tool.due_on


def when(at: datetime) -> str:
    """Say a stored UTC moment as the plant's month, day and minute."""
    return f"{local(at, settings.current().plant_tz):%m-%d %H:%M}"


def _locked(no: str) -> Tool:
    # Locked for the transaction: two people scanning one tool at once must not both take it.
    tool = for_update(Tool.select().where(Tool.no == no)).first()
    if tool is None:
        raise NotFound(f"工器具登记册中没有编号为 {no} 的工器具")
    return tool


def check_out(no: str, *, by: Person, now: datetime) -> Tool:
    """Lend the tool to by; an expired tool or one held by someone else is refused."""
    with transaction():
        tool = _locked(no)
        if tool.holder_id == by.id:
            raise InvalidTransition(f"您已于 {when(tool.out_at)} 领用{tool.kind} {tool.no}，无需重复领用")
        if tool.holder_id is not None:
            raise InvalidTransition(f"{tool.kind} {tool.no} 已由 {tool.holder.name} 于 {when(tool.out_at)} 领用，"
                                    f"须其归还后才能领用")
        if expired(tool, now):
            raise GateNotMet(f"{tool.kind} {tool.no} 检验有效期至 {tool.due_on:%Y-%m-%d}，已过期，不得领用；"
                             f"请交保管人 {tool.keeper.name} 送检")
        tool.holder, tool.out_at = by, now
        tool.chase_at = now + timedelta(hours=tool.limit_hours)
        tool.save()
        ToolLoan.create(tool=tool, person=by, out_at=now)
        audit.append(permit_no=None, actor=by.label(), action="tool_out",
                     data={"tool": tool.no, "kind": tool.kind, "due_on": tool.due_on.isoformat()}, at=now)
        return tool


def give_back(no: str, *, by: Person, now: datetime) -> Tool:
    """Take the tool back from its holder; only the holder or the keeper may return it."""
    with transaction():
        tool = _locked(no)
        if tool.holder_id is None:
            raise InvalidTransition(f"{tool.kind} {tool.no} 未被领用，无需归还")
        if by.id not in (tool.holder_id, tool.keeper_id):
            raise NotAuthorized(f"{tool.kind} {tool.no} 由 {tool.holder.name} 领用，只能由领用人或保管人"
                                f" {tool.keeper.name} 办理归还")
        holder = tool.holder
        (ToolLoan.update(back_at=now, back_by=by)
         .where((ToolLoan.tool == tool) & ToolLoan.back_at.is_null()).execute())
        tool.holder, tool.out_at, tool.chase_at = None, None, None
        tool.save()
        audit.append(permit_no=None, actor=by.label(), action="tool_back",
                     data={"tool": tool.no, "kind": tool.kind, "holder": holder.label()}, at=now)
        return tool


def problems(permit: Permit, *, kinds: tuple[str, ...], person: Person, at: datetime) -> list[str]:
    """Return what keeps the step from its tools: each kind must be held, in test, by the signer or the crew.

    The gate is in force once the plant has a tool register: a plant that has loaded none is not
    stopped by templates that name tools.
    """
    if not Tool.in_force():
        return []
    crew = {m.person_id for m in PermitMember.select(PermitMember.person).where(PermitMember.permit == permit)}
    crew.add(person.id)
    found = []
    for kind in kinds:
        held = list(Tool.select().where((Tool.kind == kind) & Tool.holder.in_(crew)).order_by(Tool.no))
        good = [t for t in held if not expired(t, at)]
        if good:
            continue
        if held:
            found += [f"{t.kind} {t.no} 检验有效期至 {t.due_on:%Y-%m-%d}，已过期，不能使用；请归还并另领检验合格的{kind}"
                      for t in held]
        elif not Tool.select().where(Tool.kind == kind).exists():
            found.append(f"工器具登记册中没有“{kind}”，请保管人先登记")
        else:
            found.append(f"须先扫码领用{kind}（扫描工器具上的二维码）")
    return found
