"""Enrol faces named in the org workbook: the 人员 sheet's 照片 column, files in a folder."""
from __future__ import annotations

from pathlib import Path

from exports.org_workbook import ACCOUNTS, DINGTALK, MOBILE, PHOTO, WECOM
from exports.workbook import RowError, SheetRow
from models import Person

from .enrol import enrol
from .match import FaceRefused

FIELDS = {WECOM: Person.wecom_userid, DINGTALK: Person.dingtalk_userid, MOBILE: Person.mobile}


def enrol_rows(rows: list[SheetRow], folder: Path) -> tuple[int, list[RowError]]:
    """Enrol every row's photo from folder, after the rows' people are saved; return the count and errors."""
    enrolled, errors = 0, []
    for row in rows:
        name = row.cells.get(PHOTO, "")
        if not name:
            continue
        file = folder / name
        if Path(name).name != name or not file.is_file():
            errors.append(RowError(row.sheet, row.row, PHOTO, f"照片文件“{name}”不在 {folder} 中"))
            continue
        column = next(c for c in ACCOUNTS if row[c])
        person = Person.get((FIELDS[column] == row[column]) & (Person.active == True))  # noqa: E712
        try:
            enrol(person, file.read_bytes(), source="workbook")
            enrolled += 1
        except FaceRefused as exc:
            errors.append(RowError(row.sheet, row.row, PHOTO, f"{name}：{exc.reason}"))
    return enrolled, errors
