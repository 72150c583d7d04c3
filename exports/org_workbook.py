"""Read the org workbook's two sheets into plain rows, locating columns by their header text."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

DEPARTMENTS = "部门"
PEOPLE = "人员"

CODE, DEPT_NAME, PARENT, KIND = "部门编码", "部门名称", "上级部门编码", "类型"
NAME, WECOM, DINGTALK, MOBILE, DEPARTMENT, ROLE = "姓名", "企业微信账号", "钉钉账号", "手机", "部门编码", "角色"
ACCOUNTS = (WECOM, DINGTALK, MOBILE)

# Header -> longest text the column's database field holds; every header is required, because a
# missing column would otherwise read as empty cells and wipe what the database holds.
DEPARTMENT_COLUMNS = {CODE: 32, DEPT_NAME: 100, PARENT: 32, KIND: 16}
PEOPLE_COLUMNS = {NAME: 50, WECOM: 64, DINGTALK: 64, MOBILE: 20, DEPARTMENT: 32, ROLE: 500}

ROLE_SEPARATORS = re.compile(r"[、,，]")


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.sheet
        if self.row:
            where += f" 第{self.row}行"
        if self.column:
            where += f" {self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class SheetRow:
    sheet: str
    row: int
    cells: dict[str, str]  # header -> trimmed text, "" for an empty cell

    def __getitem__(self, header: str) -> str:
        return self.cells[header]


def cell_text(value) -> str:
    """Return a cell's value as trimmed text; a whole number typed as a number loses its ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        # A mobile typed as a number comes back as 13800000000.0.
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def split_roles(text: str) -> list[str]:
    """Split a 角色 cell on 、 , or ， into role names, dropping blanks and repeats."""
    roles = [part.strip() for part in ROLE_SEPARATORS.split(text)]
    return list(dict.fromkeys(role for role in roles if role))


def read_workbook(path: str | Path) -> tuple[list[SheetRow], list[SheetRow], list[RowError]]:
    """Return the 部门 rows, the 人员 rows and every missing sheet or header in the workbook."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError):
        # A missing file stays an OSError: that is the caller's mistake, not the workbook's.
        return [], [], [RowError("工作簿", None, None, f"无法读取“{Path(path).name}”：不是有效的 .xlsx 文件")]
    try:
        errors: list[RowError] = []
        departments = _read_sheet(book, DEPARTMENTS, DEPARTMENT_COLUMNS, errors)
        people = _read_sheet(book, PEOPLE, PEOPLE_COLUMNS, errors)
    finally:
        book.close()
    return departments, people, errors


def _read_sheet(book, sheet: str, columns: dict[str, int], errors: list[RowError]) -> list[SheetRow]:
    if sheet not in book.sheetnames:
        errors.append(RowError(sheet, None, None,
                               f"缺少工作表“{sheet}”（现有：{'、'.join(book.sheetnames)}）"))
        return []
    rows = book[sheet].iter_rows(values_only=True)
    header = [cell_text(value) for value in next(rows, ())]
    positions: dict[str, int] = {}
    for wanted in columns:
        found = [i for i, text in enumerate(header) if text == wanted]
        if not found:
            errors.append(RowError(sheet, 1, wanted, f"缺少表头“{wanted}”"))
        elif len(found) > 1:
            errors.append(RowError(sheet, 1, wanted, f"表头“{wanted}”出现了 {len(found)} 次"))
        else:
            positions[wanted] = found[0]
    if len(positions) < len(columns):
        return []
    result = []
    for number, values in enumerate(rows, start=2):
        cells = {h: cell_text(values[i]) if i < len(values) else "" for h, i in positions.items()}
        if any(cells.values()):
            result.append(SheetRow(sheet, number, cells))
    return result
