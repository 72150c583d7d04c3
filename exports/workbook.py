"""Read an admin's workbook into plain rows, locating columns by their header text, and collect row errors."""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException


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
    cells: dict[str, str]  # header -> trimmed text, "" for an empty cell; an absent optional column is left out

    def __getitem__(self, header: str) -> str:
        return self.cells[header]


class WorkbookError(Exception):
    """The workbook has errors; nothing of it was written."""

    title = "工作簿"

    def __init__(self, errors: list[RowError]):
        self.errors = tuple(errors)
        lines = [f"{self.title}有 {len(self.errors)} 处错误，未导入任何内容："]
        super().__init__("\n".join(lines + [str(error) for error in self.errors]))


class RowChecker:
    """Collect every error in the rows instead of stopping at the first."""

    def __init__(self):
        self.errors: list[RowError] = []

    def error(self, row: SheetRow, column: str, message: str) -> None:
        self.errors.append(RowError(row.sheet, row.row, column, message))

    def check_lengths(self, row: SheetRow, limits: dict[str, int]) -> None:
        for column, limit in limits.items():
            if len(row.cells.get(column, "")) > limit:
                self.error(row, column, f"内容过长（最多 {limit} 个字符）")

    def check_basics(self, row: SheetRow, limits: dict[str, int], required, key: str,
                     first_row: dict[str, int]) -> None:
        """Lengths, required cells, and a key column unique within the sheet (first_row remembers each key)."""
        self.check_lengths(row, limits)
        for column in required:
            if not row[column]:
                self.error(row, column, "不能为空")
        value = row[key]
        if value in first_row:
            self.error(row, key, f"{key}“{value}”与第{first_row[value]}行重复")
        elif value:
            first_row[value] = row.row


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


def read_sheets(path: str | Path, sheets: dict[str, Iterable[str]], *, optional: Collection[str] = ()
                ) -> tuple[dict[str, list[SheetRow]], list[RowError]]:
    """Return the rows of each named sheet by its headers, and every missing sheet or required header."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError):
        # A missing file stays an OSError: that is the caller's mistake, not the workbook's.
        return {}, [RowError("工作簿", None, None, f"无法读取“{Path(path).name}”：不是有效的 .xlsx 文件")]
    try:
        errors: list[RowError] = []
        rows = {sheet: _read_sheet(book, sheet, list(headers), optional, errors)
                for sheet, headers in sheets.items()}
    finally:
        book.close()
    return rows, errors


def _read_sheet(book, sheet: str, columns: list[str], optional: Collection[str],
                errors: list[RowError]) -> list[SheetRow]:
    if sheet not in book.sheetnames:
        errors.append(RowError(sheet, None, None,
                               f"缺少工作表“{sheet}”（现有：{'、'.join(book.sheetnames)}）"))
        return []
    rows = book[sheet].iter_rows(values_only=True)
    header = [cell_text(value) for value in next(rows, ())]
    positions: dict[str, int] = {}
    missing = False
    for wanted in columns:
        found = [i for i, text in enumerate(header) if text == wanted]
        if not found and wanted not in optional:
            errors.append(RowError(sheet, 1, wanted, f"缺少表头“{wanted}”"))
            missing = True
        elif len(found) > 1:
            errors.append(RowError(sheet, 1, wanted, f"表头“{wanted}”出现了 {len(found)} 次"))
            missing = True
        elif found:
            positions[wanted] = found[0]
    if missing:
        return []
    result = []
    for number, values in enumerate(rows, start=2):
        cells = {h: cell_text(values[i]) if i < len(values) else "" for h, i in positions.items()}
        if any(cells.values()):
            result.append(SheetRow(sheet, number, cells))
    return result
