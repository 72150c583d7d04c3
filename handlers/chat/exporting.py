"""The 导出 chat command and the 刷新进度 button of its card; admins only."""
from __future__ import annotations

import re

from bot.base import Event
from exports import scope as scopes
from exports.period import PeriodError, parse as read_period
from jobs import exporting
from models import Person
from models.permit import Permit
from workflow.errors import NotAuthorized
from workflow.machine import record_refusal

ADMINS = ("系统管理员", "安全管理部门负责人")
NO = re.compile(r"[A-Z]{2,4}-\d{8}-\d{4}")
KINDS = {"台账": "ledger", "月报": "report", "审计": "audit", "持证": "certificates"}
USAGE = """导出命令（系统管理员、安全管理部门负责人可用）：
导出 台账 2026-11 —— 作业票台账、签字明细、气体检测记录、报警记录
  可加筛选（作业类型、单位、状态）：导出 台账 2026-11 动火作业 常减压车间 已关闭
  多个月：导出 台账 2026-09~2026-11；某几天：导出 台账 2026-11-01~2026-11-15
导出 月报 2026-11 —— 月度作业许可分析（图表、合规率、闭环周期、报警响应、综合评价）
导出 审计 DH-20261124-0001 或 导出 审计 2026-11 —— 审计记录及哈希校验
导出 持证 2026-11 —— 持证情况统计表"""


def authorize(person: Person) -> None:
    """Refuse anyone without an admin role (the caller audits the refusal and answers it)."""
    if not set(ADMINS) & person.role_names():
        raise NotAuthorized(f"导出需要{'或'.join(ADMINS)}角色")


def read(words: list[str]) -> exporting.Request:
    """Read "台账 2026-11 [筛选…]" and the like into a request; PeriodError says what is wrong."""
    if not words or words[0] not in KINDS:
        raise PeriodError("请写明导出什么：台账、月报、审计或持证")
    kind, rest = KINDS[words[0]], words[1:]
    if kind == "audit" and rest and NO.fullmatch(rest[0]):
        if len(rest) > 1 or not Permit.select().where(Permit.no == rest[0]).exists():
            raise PeriodError(f"没有编号为 {rest[0]} 的作业票" if len(rest) == 1 else "审计只能按一张作业票或一个期间导出")
        return exporting.Request("audit", permit_no=rest[0])
    if not rest:
        raise PeriodError("请写明期间，例如 2026-11")
    # The period is the first one or two words (2026-11, or 2026-11-01 2026-11-15 / 2026-11-01~…).
    try:
        period, filters = read_period(" ".join(rest[:2])), rest[2:]
    except PeriodError:
        period, filters = read_period(rest[0]), rest[1:]
    if filters and kind != "ledger":
        raise PeriodError(f"只有台账可以按作业类型、单位、状态筛选，“{' '.join(filters)}”无法识别")
    scope = scopes.from_words(period, filters)
    if kind == "report" and not period.is_month:
        raise PeriodError("月报按整月导出，例如：导出 月报 2026-11")
    return exporting.Request(kind, period.first.isoformat(), period.last.isoformat(), scope.work_type,
                             scope.unit, scope.state)


def export_command(head: str, _lines, person: Person, reply, event: Event) -> None:
    """导出 …: answer at once with the 正在生成 card; a worker builds the file and sends it."""
    authorize(person)
    try:
        request = read(head.split()[1:])
    except PeriodError as exc:
        reply(f"{exc}\n\n{USAGE}")
        return
    exporting.start(person, request, seed=event.dedupe_key)


def refresh_click(export: str, event: Event, person: Person) -> str:
    """刷新进度: show the export's progress on the clicked card."""
    # Where updates are single-use the click carries the code for one; elsewhere the card is updated
    # by its id, and the event's key only keeps one refresh row per click.
    from bot.registry import channel
    token = event.response_code or ("" if channel(event.platform).single_use_updates else event.dedupe_key)
    if not token or not exporting.refresh(person, export, token):
        record_refusal(None, by=person, command="export_progress", reason="不是本人的导出卡片", channel=event.platform)
        return "refused: not this person's export"
    return "progress shown"

