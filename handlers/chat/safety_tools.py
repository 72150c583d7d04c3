"""`工器具 <编号>`: a safety tool's state in chat, for whoever has no camera at hand to scan its label."""
from __future__ import annotations

from peewee import fn

from models import Person, utcnow
from models.tool import Tool
from tools import labels, loans
from workflow import NotFound, WorkflowError

USAGE = "格式：工器具 编号，例如：工器具 GJ-0001"


def find(no: str) -> Tool:
    """Return the tool numbered no (letters in either case); refuse a number the register lacks."""
    # People type what is painted on the tool, often in lower case on a phone.
    tool = Tool.get_or_none(Tool.no == no) or Tool.get_or_none(fn.UPPER(Tool.no) == no.upper())
    if tool is None:
        if not Tool.in_force():
            raise NotFound("本厂尚未登记安全工器具，请联系工器具保管人")
        raise NotFound(f"工器具登记册中没有编号为 {no} 的工器具，请核对工器具上的编号")
    return tool


def describe(tool: Tool) -> str:
    """Say the tool's kind, test date, keeper, holder and the link to its page."""
    now = utcnow()
    test = (f"已过期，不得使用；请交保管人 {tool.keeper.name} 送检" if loans.expired(tool, now)
            else "在检验有效期内")
    held = (f"{tool.holder.name} 于 {loans.when(tool.out_at)} 领用" if tool.holder_id is not None
            else "在库，未领用")
    return (f"【安全工器具】{tool.no} {tool.kind}\n检验有效期至 {tool.due_on:%Y-%m-%d}，{test}\n"
            f"保管人：{tool.keeper.name}\n领用情况：{held}\n领用、归还请打开：{labels.url(tool)}")


def _show(head, _lines, _person: Person, reply, _event) -> None:
    parts = head.split(maxsplit=1)
    if len(parts) < 2:
        raise WorkflowError(USAGE)
    reply(describe(find(parts[1].strip())))


COMMANDS = {"工器具": _show}
