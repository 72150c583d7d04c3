"""The org workbook's 区域 sheet: the plant's places as a tree, checked whole and written whole."""
from __future__ import annotations

import re
from pathlib import Path

from models.area import AREA_KINDS, Area
from models.org import Person, find_person

from .workbook import RowChecker, RowError, SheetRow, read_sheets

AREAS = "区域"
NAME, PARENT, KIND, LATITUDE, LONGITUDE, RADIUS, OFFICER, COORDINATOR, WECOM_GROUP, DINGTALK_GROUP = (
    "区域名称", "上级区域", "类型", "纬度", "经度", "半径（米）", "安全员", "协调人", "企业微信群机器人", "钉钉群")
# Header -> longest text its field holds (a group robot's whole webhook address may be pasted).
COLUMNS = {NAME: 100, PARENT: 100, KIND: 8, LATITUDE: 32, LONGITUDE: 32, RADIUS: 32, OFFICER: 64,
           COORDINATOR: 64, WECOM_GROUP: 256, DINGTALK_GROUP: 128}
OPTIONAL = (LATITUDE, LONGITUDE, RADIUS, OFFICER, COORDINATOR, WECOM_GROUP, DINGTALK_GROUP)
# A WeCom group robot is named by its webhook key; a DingTalk group by its openConversationId.
WEBHOOK_KEY = re.compile(r"(?:https?://\S+[?&]key=)?([A-Za-z0-9\-_]{1,128})")
CONVERSATION = re.compile(r"[A-Za-z0-9+/=_\-]{1,128}")
# A child is never of a higher kind than its parent: a site does not hold a unit.
RANK = {kind: rank for rank, kind in enumerate(AREA_KINDS)}


def read(path: str | Path) -> tuple[list[SheetRow] | None, list[RowError]]:
    """Return the 区域 rows (None when the workbook has no such sheet) and any missing header."""
    rows, errors = read_sheets(path, {AREAS: COLUMNS}, optional=OPTIONAL)
    if any(e.sheet == AREAS and e.row is None for e in errors):
        return None, []   # optional: a plant without the sheet keeps free-text places
    return rows.get(AREAS, []), errors


class _Checker(RowChecker):
    def number(self, row: SheetRow, column: str, low: float, high: float) -> float | None:
        text = row.cells.get(column, "")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            self.error(row, column, f"“{text}”不是数字")
            return None
        if not low <= value <= high:
            self.error(row, column, f"{value:g} 超出范围（{low:g} 至 {high:g}）")
            return None
        return value

    def person(self, row: SheetRow, column: str) -> Person | None:
        account = row.cells.get(column, "")
        if not account:
            return None
        person = find_person(account)
        if person is None or not person.active:
            self.error(row, column, f"找不到在职人员“{account}”（填企业微信账号、钉钉账号或手机）")
            return None
        return person

    def group(self, row: SheetRow, column: str, pattern: re.Pattern, what: str) -> str | None:
        text = row.cells.get(column, "").strip()
        if not text:
            return None
        found = pattern.fullmatch(text)
        if found is None:
            self.error(row, column, f"“{text[:40]}”不是{what}")
            return None
        return found.group(found.lastindex or 0)


def check(rows: list[SheetRow]) -> tuple[list[dict], list[RowError]]:
    """Check the rows against each other and the org; return the nodes to write, parents first."""
    checker, by_name = _Checker(), {}
    for row in rows:
        checker.check_lengths(row, COLUMNS)
        if not row[NAME]:
            checker.error(row, NAME, "不能为空")
        elif row[NAME] in by_name:
            checker.error(row, NAME, f"区域名称“{row[NAME]}”与第{by_name[row[NAME]].row}行重复")
        else:
            by_name[row[NAME]] = row
        if row[KIND] not in AREA_KINDS:
            what = f"未知类型“{row[KIND]}”" if row[KIND] else "不能为空"
            checker.error(row, KIND, f"{what}，可选：{'、'.join(AREA_KINDS)}")
    nodes = []
    for name, row in by_name.items():
        parent = row[PARENT] or None
        if parent is not None and parent not in by_name:
            checker.error(row, PARENT, f"上级区域“{parent}”不在本表中")
        elif parent is not None and row[KIND] in RANK and by_name[parent][KIND] in RANK \
                and RANK[row[KIND]] <= RANK[by_name[parent][KIND]]:
            checker.error(row, KIND, f"{row[KIND]}不能位于{by_name[parent][KIND]}“{parent}”之下")
        latitude = checker.number(row, LATITUDE, -90, 90)
        longitude = checker.number(row, LONGITUDE, -180, 180)
        if bool(row.cells.get(LATITUDE)) != bool(row.cells.get(LONGITUDE)):
            checker.error(row, LONGITUDE if row.cells.get(LATITUDE) else LATITUDE, "纬度和经度须同时填写")
        nodes.append(dict(name=name, parent=parent, kind=row[KIND], latitude=latitude, longitude=longitude,
                          radius=checker.number(row, RADIUS, 0, 100000),
                          safety_officer=checker.person(row, OFFICER),
                          coordinator=checker.person(row, COORDINATOR),
                          wecom_group=checker.group(row, WECOM_GROUP, WEBHOOK_KEY, "企业微信群机器人的 Webhook 地址或 key"),
                          dingtalk_group=checker.group(row, DINGTALK_GROUP, CONVERSATION, "钉钉群的 openConversationId")))
    _check_cycles(checker, by_name)
    if not rows:
        checker.errors.append(RowError(AREAS, None, None, "没有任何区域（不用区域表请删除此工作表）"))
    return _parents_first(nodes), checker.errors


def _check_cycles(checker: _Checker, by_name: dict[str, SheetRow]) -> None:
    for name, row in by_name.items():
        chain, node = [name], row[PARENT] or None
        while node is not None and node in by_name and node not in chain:
            chain.append(node)
            node = by_name[node][PARENT] or None
        if node == name:
            checker.error(row, PARENT, f"上级区域形成循环：{' → '.join(chain + [name])}")


def _parents_first(nodes: list[dict]) -> list[dict]:
    by_name, done, ordered = {n["name"]: n for n in nodes}, set(), []

    def visit(node: dict, trail: tuple = ()) -> None:
        if node["name"] in done or node["name"] in trail:
            return
        parent = by_name.get(node["parent"])
        if parent is not None:
            visit(parent, trail + (node["name"],))
        done.add(node["name"])
        ordered.append(node)
    for node in nodes:
        visit(node)
    return ordered


def save(nodes: list[dict]) -> tuple[int, int, int]:
    """Write the sheet's nodes as the plant's tree; return (created, updated, retired).

    A node left out of the sheet is retired, not deleted: the permits that name it keep it.
    """
    known = {a.name: a for a in Area.select()}
    created = updated = 0
    for fields in nodes:
        parent = known[fields["parent"]] if fields["parent"] else None
        values = {**fields, "parent": parent, "active": True}
        area = known.get(fields["name"])
        if area is None:
            known[fields["name"]] = Area.create(**values)
            created += 1
        else:
            for key, value in values.items():
                setattr(area, key, value)
            area.save()
            updated += 1
    kept = {n["name"] for n in nodes}
    retired = [a.id for a in known.values() if a.active and a.name not in kept]
    if retired:
        Area.update(active=False).where(Area.id.in_(retired)).execute()
    return created, updated, len(retired)
