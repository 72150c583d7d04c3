"""Build the sample plant's tool workbook: python -m exports.samples.build_sample_tools [OUT]."""
from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

from ..tool_import import COLUMNS, CYCLE_RANGE, DEFAULT_LIMIT_HOURS, LIMIT_RANGE, TOOLS
from .layout import fill

OUT = Path(__file__).with_name("示例安全工器具.xlsx")
# The kinds are the ones the sample templates ask for (气体分析 and 高处作业's start); GJ-0003's test
# date lies far back on purpose, so the sample register has an expired detector to be refused.
ROWS = (
    ("GJ-0001", "便携式气体检测仪", 12, "2026-06-01", "sunli", 12),
    ("GJ-0002", "便携式气体检测仪", 12, "2026-09-15", "sunli", 12),
    ("GJ-0003", "便携式气体检测仪", 12, "2025-01-10", "sunli", 12),
    ("AQD-0001", "安全带", 12, "2026-08-01", "zhuyan", 24),
    ("AQD-0002", "安全带", 12, "2026-08-01", "zhuyan", 24),
    ("JYST-0001", "绝缘手套", 6, "2026-10-08", "xudian", 12),
)


def build(out: Path = OUT) -> Path:
    """Write the sample plant's tool workbook to out and return its path."""
    book = Workbook()
    sheet = book.active
    sheet.title = TOOLS
    fill(sheet, COLUMNS, ROWS)
    notes = book.create_sheet("说明")
    fill(notes, ("项目", "说明"), [
        ("编号", "工器具上的编号，标签二维码按编号生成；重复导入同一编号即更新"),
        ("类别", "作业票步骤要求的工器具类别，例如：便携式气体检测仪、安全带"),
        ("检验周期(月)", f"{CYCLE_RANGE.start} 到 {CYCLE_RANGE.stop - 1} 的整数"),
        ("上次检验日期", "如 2026-05-01；有效期至上次检验日期加检验周期，过期不得领用"),
        ("保管人", "企业微信账号、钉钉账号或手机号；接收到期提醒和超时未还提醒"),
        ("借用时限(小时)", f"{LIMIT_RANGE.start} 到 {LIMIT_RANGE.stop - 1} 的整数，空为 {DEFAULT_LIMIT_HOURS}；超时未还会催还"),
    ])
    book.save(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
