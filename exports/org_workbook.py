"""Read the org workbook's two sheets into plain rows, locating columns by their header text."""
from __future__ import annotations

import re
from pathlib import Path

from .workbook import RowError, SheetRow, read_sheets

DEPARTMENTS = "部门"
PEOPLE = "人员"

CODE, DEPT_NAME, PARENT, KIND = "部门编码", "部门名称", "上级部门编码", "类型"
NAME, WECOM, DINGTALK, MOBILE, DEPARTMENT, ROLE = "姓名", "企业微信账号", "钉钉账号", "手机", "部门编码", "角色"
ACCOUNTS = (WECOM, DINGTALK, MOBILE)

# Header -> longest text the column's database field holds; every header is required, because a
# missing column would otherwise read as empty cells and wipe what the database holds.
DEPARTMENT_COLUMNS = {CODE: 32, DEPT_NAME: 100, PARENT: 32, KIND: 16}
PEOPLE_COLUMNS = {NAME: 50, WECOM: 64, DINGTALK: 64, MOBILE: 20, DEPARTMENT: 32, ROLE: 500}
# Optional: the file name of the person's reference face photo, in the folder given to load-org.
PHOTO = "照片"

ROLE_SEPARATORS = re.compile(r"[、,，]")


def split_roles(text: str) -> list[str]:
    """Split a 角色 cell on 、 , or ， into role names, dropping blanks and repeats."""
    roles = [part.strip() for part in ROLE_SEPARATORS.split(text)]
    return list(dict.fromkeys(role for role in roles if role))


def read_workbook(path: str | Path) -> tuple[list[SheetRow], list[SheetRow], list[RowError]]:
    """Return the 部门 rows, the 人员 rows and every missing sheet or header in the workbook."""
    rows, errors = read_sheets(path, {DEPARTMENTS: DEPARTMENT_COLUMNS, PEOPLE: {**PEOPLE_COLUMNS, PHOTO: 200}},
                               optional=(PHOTO,))
    return rows.get(DEPARTMENTS, []), rows.get(PEOPLE, []), errors
