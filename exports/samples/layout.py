"""Lay out a sample workbook's sheet: a styled, frozen header row, text cells and fitted widths."""
from __future__ import annotations

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")


def fill(sheet, headers: tuple[str, ...], rows) -> None:
    """Write headers and rows to sheet, style the header row and fit the column widths."""
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        # Text, not numbers: a mobile or code stored as a number loses leading zeros in Excel.
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = "@"
        texts = [header] + [str(row[index - 1]) for row in rows]
        # CJK characters take two columns' width.
        width = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) for text in texts)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 4, 10), 60)


def pick_list(sheet, *, column: int, choices: tuple[str, ...]) -> None:
    """Offer choices as a drop-down in column from row 2 down."""
    letter = get_column_letter(column)
    rule = DataValidation(type="list", formula1=f'"{",".join(choices)}"', allow_blank=False)
    rule.add(f"{letter}2:{letter}1000")
    sheet.add_data_validation(rule)
