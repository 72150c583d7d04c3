"""工器具台账 and 领用记录: the safety tool register as it stands, and every loan that overlaps the period."""
from __future__ import annotations

from peewee import JOIN

from models import Department, Person
from models.tool import Tool, ToolLoan
from tools import loans

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet
from .tool_import import CYCLE, KEEPER, KIND, LIMIT, NO, TESTED

REGISTER = "工器具台账"
LOANS = "领用记录"
TIME = 19
DAY = 12
REGISTER_COLUMNS = (
    Column(NO, 12), Column(KIND, 18), Column(CYCLE, 8), Column(TESTED, DAY), Column("检验有效期至", DAY),
    Column("检验状态", 9), Column(KEEPER, 9), Column("当前领用人", 10), Column("领用时间", TIME), Column(LIMIT, 9),
)
LOAN_COLUMNS = (
    Column(NO, 12), Column(KIND, 18), Column("领用人", 9), Column("部门", 14), Column("领用时间", TIME),
    Column("归还时间", TIME), Column("归还经办人", 10), Column("借用时长(小时)", 9), Column("催还次数", 8),
)


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the register (as at export time: it has no period) and the loans that overlap the period."""
    heading = run.heading(scope.period.label, scope.describe())
    register = Sheet(book, REGISTER, REGISTER_COLUMNS, title=f"{REGISTER}（导出时状态）", heading=heading,
                     freeze_columns=1, empty_note="尚未登记安全工器具（load-tools 导入工器具登记表）")
    holder, keeper = Person.alias(), Person.alias()
    tools = (Tool.select(Tool, keeper, holder).join(keeper, on=Tool.keeper == keeper.id).switch(Tool)
             .join(holder, on=Tool.holder == holder.id, join_type=JOIN.LEFT_OUTER).order_by(Tool.no))
    for tool in tools:
        register.append([tool.no, tool.kind, tool.cycle_months, tool.tested_on, tool.due_on,
                         "已过期" if loans.expired(tool, run.now) else "有效", tool.keeper.name,
                         tool.holder.name if tool.holder_id else None,
                         run.clock(tool.out_at), tool.limit_hours])
    start, end = scope.period.bounds(run.tz)
    lent = Sheet(book, LOANS, LOAN_COLUMNS, title=f"{LOANS}（{scope.period.label}）", heading=heading,
                 freeze_columns=1, empty_note="本期间没有工器具领用")
    # A loan belongs to every period it overlaps: one still out shows in each month until it is back.
    taker, returner = Person.alias(), Person.alias()
    for loan in (ToolLoan.select(ToolLoan, Tool, taker, Department, returner).join(Tool).switch(ToolLoan)
                 .join(taker, on=ToolLoan.person == taker.id).join(Department).switch(ToolLoan)
                 .join(returner, on=ToolLoan.back_by == returner.id, join_type=JOIN.LEFT_OUTER)
                 .where((ToolLoan.out_at < end) & (ToolLoan.back_at.is_null() | (ToolLoan.back_at >= start)))
                 .order_by(ToolLoan.out_at, ToolLoan.id)):
        hours = round((loan.back_at - loan.out_at).total_seconds() / 3600, 1) if loan.back_at else None
        lent.append([loan.tool.no, loan.tool.kind, loan.person.name, loan.person.department.name,
                     run.clock(loan.out_at), run.clock(loan.back_at),
                     loan.back_by.name if loan.back_by_id else None, hours, loan.chases])
    return {REGISTER: register.finish(), LOANS: lent.finish()}
