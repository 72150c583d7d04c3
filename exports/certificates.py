"""持证情况统计表: certificates held against those the plant's work needs.

The rows come from the certificate registry (certs/), which the app registers at start with
register(source): exports reads only models, so it cannot ask the registry itself. source(period, now)
yields rows in COLUMNS order; with none registered the sheet says 无数据 and why.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from .period import Period
from .run import Run
from .sheet import Column, Sheet

CERTIFICATES = "持证情况统计表"
COLUMNS = (
    Column("证书类型", 16), Column("适用角色", 16), Column("应持证人数", 11), Column("持证人数", 10),
    Column("有效", 8), Column("30 天内到期", 11), Column("已过期", 8), Column("持证率 %", 10),
)
NOT_REGISTERED = "暂未登记证书（证书登记功能尚未启用）"

Source = Callable[[Period, datetime], Iterable[list]]
_source: Source | None = None


def register(source: Source) -> Source:
    """Install the registry's rows for the sheet."""
    global _source
    _source = source
    return source


def unregister() -> None:
    global _source
    _source = None


def write(book, period: Period, run: Run) -> int:
    sheet = Sheet(book, CERTIFICATES, COLUMNS, title=f"{CERTIFICATES}（{period.label}）",
                  heading=run.heading(period.label),
                  empty_note=NOT_REGISTERED if _source is None else "本期间没有证书记录")
    for row in _source(period, run.now) if _source is not None else ():
        sheet.append(row)
    return sheet.finish()
