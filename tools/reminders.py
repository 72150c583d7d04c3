"""The scheduler's tool scans: warn keepers before a tool's test falls due, chase loans past their limit."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import Outbox, Person, transaction
from models.tool import Tool, ToolLoan

from .loans import today

WARN_DAYS = 15   # long enough to send a detector away for calibration and have it back
BATCH = 200


def _tell(people: list[Person], text: str, key: str) -> None:
    """Queue text to each person once per key; the sweep delivers it."""
    for person in {p.id: p for p in people if p is not None and p.active}.values():
        (Outbox.insert(permit_no=None, person=person, kind="reply", payload={"kind": "reply", "text": text},
                       dedupe_key=f"tool:{key}:{person.id}"[:191])
         .on_conflict_ignore().execute())


def warn_due(now: datetime) -> int:
    """Warn each keeper once per due date of a tool whose test falls due within WARN_DAYS."""
    day = today(now)
    rows = (Tool.select(Tool.id).where((Tool.due_on <= day + timedelta(days=WARN_DAYS))
                                       & (Tool.warned_for.is_null() | (Tool.warned_for != Tool.due_on)))
            .order_by(Tool.due_on).limit(BATCH))
    done = 0
    for (tool_id,) in list(rows.tuples()):
        with transaction():
            tool = Tool.get_by_id(tool_id)
            if tool.warned_for == tool.due_on:
                continue   # another scan took it meanwhile
            days = (tool.due_on - day).days
            left = f"还有 {days} 天" if days > 0 else ("今天到期" if days == 0 else "已过期")
            _tell([tool.keeper], f"{tool.kind} {tool.no} 检验有效期至 {tool.due_on:%Y-%m-%d}（{left}），"
                                 f"到期后不能领用，请及时送检并更新工器具登记表。",
                  f"expiry:{tool.id}:{tool.due_on:%Y%m%d}")
            Tool.update(warned_for=tool.due_on).where(Tool.id == tool.id).execute()
            done += 1
    return done


def chase_due(now: datetime) -> int:
    """Ask the holder (and tell the keeper) to bring back each tool out longer than its limit, once per limit."""
    rows = (Tool.select(Tool.id, Tool.chase_at).where(Tool.chase_at <= now)
            .order_by(Tool.chase_at).limit(BATCH))
    done = 0
    for tool_id, seen in list(rows.tuples()):
        with transaction():
            tool = Tool.get_by_id(tool_id)
            if tool.chase_at != seen or tool.holder_id is None:
                continue
            loan = ToolLoan.get((ToolLoan.tool == tool) & ToolLoan.back_at.is_null())
            hours = int((now - tool.out_at).total_seconds() // 3600)
            loan.chases += 1
            loan.save()
            _tell([tool.holder, tool.keeper],
                  f"催还：{tool.kind} {tool.no} 由 {tool.holder.name} 领用已 {hours} 小时，超过借用时限 "
                  f"{tool.limit_hours} 小时，请尽快扫码归还保管人 {tool.keeper.name}。",
                  f"chase:{loan.id}:{loan.chases}")
            Tool.update(chase_at=now + timedelta(hours=tool.limit_hours)).where(Tool.id == tool.id).execute()
            done += 1
    return done
