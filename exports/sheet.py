"""One streamed sheet of an exported workbook: title block, frozen header, filter, widths, 无数据.

Workbooks are opened write-only: each row goes to a temporary file as it is appended, so a ledger of
any length takes the memory of one page of rows. What write-only mode fixes up front (widths, frozen
panes) is set before the first row; the filter, which Excel keeps after the rows, is set at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

EXCEL_MAX_ROWS = 1_048_576
A4 = 9
HEADER_ROW = 3             # title, then the plant, period and time of export, then the header
NO_DATA = "无数据"

TITLE_FONT = Font(bold=True, size=14)
INFO_FONT = Font(color="595959")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)
NOTE_FONT = Font(bold=True)


@dataclass(frozen=True)
class Column:
    header: str
    width: float = 12


@dataclass(frozen=True)
class Heading:
    """What the title block says: the sheet's title, the plant, the period and when it was exported."""

    plant: str
    period: str
    exported_at: datetime   # plant-local
    scope: str = ""         # e.g. the filters applied

    def info(self) -> str:
        parts = [self.plant, f"期间：{self.period}（工厂时间）"]
        if self.scope:
            parts.append(self.scope)
        parts.append(f"导出时间：{self.exported_at:%Y-%m-%d %H:%M}")
        return "　｜　".join(parts)


def new_book() -> Workbook:
    """Return an empty write-only workbook."""
    return Workbook(write_only=True)


# A text starting with one of these is a formula, or a DDE call, to Excel or LibreOffice if it is ever
# taken for one (a user's 地点 of "=HYPERLINK(...)" or "cmd|' /C calc'!A0").
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def as_cell(ws, value):
    """Return value ready for ws.append: text as a text cell (never a formula), anything else as it is."""
    if isinstance(value, str):
        return styled(ws, value)
    return value


def formula(ws, expression: str, **looks) -> WriteOnlyCell:
    """Return a cell holding a formula the export itself wrote (never one built from stored text)."""
    if not expression.startswith("="):
        raise ValueError(f"a formula starts with '=': {expression!r}")
    cell = styled(ws, 0, **looks)
    cell.value = expression   # binding the value makes it a formula: the one place that may
    return cell


def styled(ws, value, *, font=None, fill=None, alignment=None, number_format=None) -> WriteOnlyCell:
    """Return a write-only cell with the given looks; text is stored as text, never as a formula."""
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"   # openpyxl would store "=…" as a formula
        if value.startswith(FORMULA_LEADS):
            cell.quotePrefix = True   # and Excel keeps it text when someone edits the cell
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if number_format is not None:
        cell.number_format = number_format
    return cell


def landscape(ws) -> None:
    """Print the sheet on A4 landscape, as wide as one page, as long as it takes."""
    ws.page_setup.orientation, ws.page_setup.paperSize = "landscape", A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0


class Sheet:
    """Append rows under a title block; past Excel's row limit the rows go on in a continuation sheet."""

    def __init__(self, book: Workbook, name: str, columns: tuple[Column, ...], *, title: str,
                 heading: Heading, freeze_columns: int = 0, max_rows: int = EXCEL_MAX_ROWS,
                 empty_note: str = "", ws=None):
        self.book, self.name, self.columns, self.title, self.heading = book, name, columns, title, heading
        self.freeze_columns, self.max_rows, self.empty_note = freeze_columns, max_rows, empty_note
        self.rows = 0          # data rows in all parts
        self.parts: list = []
        self._on_part = 0      # data rows in the current part
        self._open_part(ws)

    @classmethod
    def on(cls, ws, columns: tuple[Column, ...], **options) -> "Sheet":
        """Return a Sheet writing into ws, a sheet created earlier to fix its place among the tabs."""
        return cls(ws.parent, ws.title, columns, ws=ws, **options)

    @property
    def ws(self):
        return self.parts[-1]

    def _open_part(self, ws=None) -> None:
        number = len(self.parts) + 1
        name = self.name if number == 1 else f"{self.name}（续{number}）"
        ws = ws or self.book.create_sheet(name)
        if self.parts:
            # Keep a continuation right behind the part it continues, not after later sheets.
            self.book.move_sheet(ws.title, self.book.index(self.parts[-1]) + 1 - self.book.index(ws))
        for index, column in enumerate(self.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = f"{get_column_letter(self.freeze_columns + 1)}{HEADER_ROW + 1}"
        landscape(ws)
        ws.print_title_rows = f"1:{HEADER_ROW}"   # each printed page repeats the title and header
        title = self.title if number == 1 else f"{self.title}（续{number}）"
        ws.append([styled(ws, title, font=TITLE_FONT)])
        ws.append([styled(ws, self.heading.info(), font=INFO_FONT)])
        ws.append([styled(ws, c.header, font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGN)
                   for c in self.columns])
        self.parts.append(ws)
        self._on_part = 0

    def append(self, row) -> None:
        """Append one data row: values in column order (dates as datetimes, numbers as numbers)."""
        if HEADER_ROW + self._on_part >= self.max_rows:
            self._close_part()
            self._open_part()
        self.ws.append([as_cell(self.ws, value) for value in row])
        self.rows += 1
        self._on_part += 1

    def picture(self, column: int, path, *, height: int = 60) -> None:
        """Float a thumbnail of the image at path over the last appended row's cell in column (1-based)."""
        from openpyxl.drawing.image import Image
        image = Image(str(path))
        scale = min(height / image.height, 2 * height / image.width)
        image.width, image.height = max(1, int(image.width * scale)), max(1, int(image.height * scale))
        self.ws.add_image(image, f"{get_column_letter(column)}{HEADER_ROW + self._on_part}")

    def note(self, *lines: str) -> None:
        """Append lines after the data, one blank row below it (e.g. a verification result)."""
        self.ws.append([])
        for line in lines:
            self.ws.append([styled(self.ws, line, font=NOTE_FONT)])

    def _close_part(self) -> None:
        last = get_column_letter(len(self.columns))
        self.ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(self._on_part, 1)}"

    def finish(self) -> int:
        """Set the filter over the rows (writing 无数据 when there are none); return the row count."""
        if self.rows == 0:
            self.ws.append([as_cell(self.ws, v) for v in [NO_DATA] + ([self.empty_note] if self.empty_note else [])])
        self._close_part()
        return self.rows
