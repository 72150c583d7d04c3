"""The weighted evaluation score of seed practice: Q = Σ Kᵢ·Pᵢ, each UIᵢ = Σ εⱼ·LIⱼ.

The seed (a field-work patent) gives the formula but no indicators or weights; the tree below is this
product's default, scored 0–100 from the month's figures. Admins change the weights in the 权重配置 sheet
of any report (or of `python app.py template`'s 评价权重.xlsx) and load it with `load-weights`; the
report's own formulas read that sheet, so an edit there also re-scores the report in Excel.

An indicator with no data in the month (no alarms, say) takes no part: its weight is shared out among
the others of its group in proportion, and a group with none takes no part in Q.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.styles import PatternFill

import settings

from .sheet import HEADER_ROW, Column, Heading, Sheet, styled
from .workbook import RowError, WorkbookError, cell_text

SHEET = "权重配置"
FILE = "评价权重.xlsx"        # in the instance folder, once loaded with `load-weights`
LEVEL, CODE, NAME, PARENT, WEIGHT, METHOD = "层级", "编码", "指标", "所属一级指标", "权重", "计分方法"
HEADERS = (LEVEL, CODE, NAME, PARENT, WEIGHT, METHOD)
UPPER, LOWER = "一级", "二级"
TOLERANCE = 0.001
EDITABLE = PatternFill("solid", fgColor="FFF2CC")
COLUMNS = (Column(LEVEL, 7), Column(CODE, 17), Column(NAME, 16), Column(PARENT, 14), Column(WEIGHT, 8),
           Column(METHOD, 70))


@dataclass(frozen=True)
class Item:
    level: str          # 一级 (UIᵢ, weight Kᵢ) or 二级 (LIⱼ, weight εⱼ)
    code: str
    name: str
    parent: str         # the 一级 code a 二级 indicator belongs to; "" for a 一级 one
    weight: float
    method: str = ""


DEFAULT: tuple[Item, ...] = (
    Item(UPPER, "process", "流程合规", "", 0.35),
    Item(LOWER, "compliance", "合规率", "process", 0.6,
         "按流程完成的作业票 ÷ 全部作业票 × 100（各步骤按模板顺序、无超时签字、无先干后批）"),
    Item(LOWER, "first_pass", "一次审批通过率", "process", 0.4, "未被驳回或退回修改的作业票 ÷ 全部作业票 × 100"),
    Item(UPPER, "timeliness", "审批时效", "", 0.25),
    Item(LOWER, "on_time", "步骤按时完成率", "timeliness", 0.6, "在时限内完成的步骤 ÷ 已完成步骤 × 100"),
    Item(LOWER, "no_escalation", "无升级率", "timeliness", 0.4, "未被超时上报的步骤 ÷ 已完成步骤 × 100"),
    Item(UPPER, "alarm", "报警响应", "", 0.25),
    Item(LOWER, "response_rate", "预警响应率", "alarm", 0.7, "在重发间隔内确认的报警 ÷ 全部报警 × 100"),
    Item(LOWER, "ack_rate", "报警确认率", "alarm", 0.3, "已确认的报警 ÷ 全部报警 × 100"),
    Item(UPPER, "closure", "作业闭环", "", 0.15),
    Item(LOWER, "closed_rate", "开工作业闭环率", "closure", 0.6, "已关闭 ÷ 已开工的作业票 × 100"),
    Item(LOWER, "first_acceptance", "一次验收通过率", "closure", 0.4, "未经整改即验收通过 ÷ 已作验收结论的作业票 × 100"),
)


class WeightsError(WorkbookError):
    """The weights sheet has errors; nothing of it was loaded."""

    title = "评价权重表"


def uppers(items: tuple[Item, ...]) -> list[Item]:
    return [item for item in items if item.level == UPPER]


def lowers(items: tuple[Item, ...], parent: str) -> list[Item]:
    return [item for item in items if item.level == LOWER and item.parent == parent]


def _shared(pairs: list[tuple[float, float | None]]) -> float | None:
    """Return Σ w·v / Σ w over the pairs whose value is known, or None when none is."""
    known = [(w, v) for w, v in pairs if v is not None]
    total = sum(w for w, _ in known)
    return sum(w * v for w, v in known) / total if known and total else None


def score(items: tuple[Item, ...], values: dict[str, float | None]) -> tuple[dict[str, float | None], float | None]:
    """Return each 一级 indicator's UI and the total Q, from the 二级 values LI (0–100, None for no data)."""
    groups = {group.code: _shared([(i.weight, values.get(i.code)) for i in lowers(items, group.code)])
              for group in uppers(items)}
    return groups, _shared([(group.weight, groups[group.code]) for group in uppers(items)])


def current() -> tuple[Item, ...]:
    """Return the weights loaded into the instance folder, else the defaults."""
    path = settings.current().instance_path / FILE
    return read(path) if path.exists() else DEFAULT


def read(path: str | Path) -> tuple[Item, ...]:
    """Read and check the 权重配置 sheet; raise WeightsError naming every problem."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception:   # openpyxl raises several kinds for a file that is not a workbook
        raise WeightsError([RowError(SHEET, None, None, f"无法读取“{Path(path).name}”：不是有效的 .xlsx 文件")]) from None
    try:
        if SHEET not in book.sheetnames:
            raise WeightsError([RowError(SHEET, None, None, f"缺少工作表“{SHEET}”")])
        rows = list(book[SHEET].iter_rows(values_only=True))
    finally:
        book.close()
    return _check(rows)


def _check(rows: list[tuple]) -> tuple[Item, ...]:
    # The sheet has a title block: the header is the first row naming every column.
    start = next((n for n, row in enumerate(rows) if set(HEADERS) <= {cell_text(v) for v in row}), None)
    if start is None:
        raise WeightsError([RowError(SHEET, None, None, f"找不到表头（{'、'.join(HEADERS)}）")])
    where = {cell_text(v): i for i, v in enumerate(rows[start])}
    known = {item.code: item for item in DEFAULT}
    errors, found = [], {}
    for number, row in enumerate(rows[start + 1:], start=start + 2):
        cells = {h: row[where[h]] if where[h] < len(row) else None for h in HEADERS}
        code = cell_text(cells[CODE])
        if not code:
            continue
        weight = cells[WEIGHT]
        if code not in known:
            errors.append(RowError(SHEET, number, CODE, f"未知指标编码“{code}”"))
        elif code in found:
            errors.append(RowError(SHEET, number, CODE, f"“{code}”出现了两次"))
        elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            errors.append(RowError(SHEET, number, WEIGHT, f"应为 0 到 1 之间的数，不是“{cell_text(weight)}”"))
        else:
            item = known[code]
            found[code] = Item(item.level, code, item.name, item.parent, float(weight), item.method)
    missing = [code for code in known if code not in found]
    if missing and not errors:
        errors.append(RowError(SHEET, None, CODE, f"缺少指标：{'、'.join(missing)}"))
    if not errors:
        items = tuple(found[item.code] for item in DEFAULT)
        for parent, members in [("", uppers(items))] + [(g.code, lowers(items, g.code)) for g in uppers(items)]:
            total = sum(item.weight for item in members)
            if abs(total - 1) > TOLERANCE:
                group = known[parent].name if parent else "一级指标"
                errors.append(RowError(SHEET, None, WEIGHT, f"{group}的权重之和为 {total:g}，应为 1"))
    if errors:
        raise WeightsError(errors)
    return items


def write_sheet(book, heading: Heading, items: tuple[Item, ...] = DEFAULT) -> dict[str, int]:
    """Write the editable 权重配置 sheet; return the row of each indicator's weight."""
    sheet = Sheet(book, SHEET, COLUMNS, title="评价权重配置（修改黄色的权重，同级之和为 1）", heading=heading)
    rows, names = {}, {item.code: item.name for item in items}
    for index, item in enumerate(items):
        rows[item.code] = HEADER_ROW + 1 + index
        sheet.append([item.level, item.code, item.name, names.get(item.parent) or None,
                      styled(sheet.ws, item.weight, fill=EDITABLE), item.method or None])
    sheet.finish()
    sheet.note("Q = Σ Kᵢ·UIᵢ（一级指标），UIᵢ = Σ εⱼ·LIⱼ（二级指标），各指标得分 0–100。",
               "某指标当月无数据时不参与计算，其权重按比例分给同级其他指标。",
               "修改后运行 python app.py load-weights 本文件.xlsx，以后各月的报告即按新权重计分。")
    return rows
