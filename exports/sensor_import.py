"""Load the detector workbook into the sensor registry: all of it in one transaction, or none of it."""
from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from models.db import transaction
from models.org import Department
from models.sensor import FIXED, PORTABLE, Gateway, RegistryVersion, Sensor
from workflow.gas import GASES
from workflow.gas_table import GASES as TABLE, set_point_problems

from .workbook import RowChecker, RowError, SheetRow, WorkbookError, read_sheets

__all__ = ["NewGateway", "NewSensor", "RowError", "SensorImportError", "SensorImportReport", "UnknownSensor",
           "format_report", "load_sensors", "rekey_sensor"]

SENSORS, GATEWAYS = "检测仪", "网关"
CODE, NAME, AREA, KIND, GAS, INTERVAL, UNIT, ENABLED, GATEWAY = (
    "编号", "名称", "区域/位置", "类型", "测量气体", "上报间隔秒", "所属单位", "启用", "网关")
FIRST_ALARM, SECOND_ALARM = "一级报警值", "二级报警值"
REQUIRED = (CODE, NAME, AREA, KIND, GAS, INTERVAL)
# A missing optional column leaves a registered detector's unit, state or gateway as it is.
OPTIONAL = (UNIT, ENABLED, GATEWAY, FIRST_ALARM, SECOND_ALARM)
SENSOR_COLUMNS = REQUIRED + (UNIT, ENABLED)   # the sample workbook's; 网关 is for plants with gateways
# The 网关 sheet is optional too: a workbook without it links detectors to registered gateways only.
GATEWAY_COLUMNS = (CODE, NAME, ENABLED)
LIMITS = {CODE: 32, NAME: 100, AREA: 200}  # the longest text the database fields hold

KINDS = (PORTABLE, FIXED)
YES, NO = "是", "否"
INTERVAL_RANGE = range(1, 3601)
GAS_SEPARATORS = re.compile(r"[、,，/\s]+")
SECRET_BYTES = 16


class SensorImportError(WorkbookError):
    """The detector workbook has errors; nothing of it was written."""

    title = "检测仪表"


class UnknownSensor(LookupError):
    """No detector is registered under the code."""

    def __init__(self, code: str):
        super().__init__(f"没有编号为 {code} 的检测仪")
        self.code = code


@dataclass(frozen=True)
class NewSensor:
    code: str
    name: str
    secret: str = field(repr=False)  # shown once, in the report; kept out of logs


@dataclass(frozen=True)
class NewGateway:
    code: str
    name: str
    secret: str = field(repr=False)  # shown once, in the report; kept out of logs


@dataclass(frozen=True)
class SensorImportReport:
    updated: int
    new: tuple[NewSensor, ...]
    gateways: tuple[NewGateway, ...] = ()
    gateways_updated: int = 0

    @property
    def created(self) -> int:
        return len(self.new)


def format_report(report: SensorImportReport) -> str:
    """Return the report as Chinese lines, each new detector's secret on its own line."""
    lines = [f"检测仪：新增 {report.created}，更新 {report.updated}"]
    if report.new:
        lines.append("新检测仪的密钥仅此一次显示，请立即配置到检测仪上；遗失后只能重新生成（sensor-rekey 编号）：")
        lines += [f"{sensor.code}  secret={sensor.secret}" for sensor in report.new]
    if report.gateways or report.gateways_updated:
        lines.append(f"网关：新增 {len(report.gateways)}，更新 {report.gateways_updated}")
    if report.gateways:
        lines.append("新网关的密钥仅此一次显示，请立即配置到网关（气体检测控制器）上：")
        lines += [f"{gateway.code}  secret={gateway.secret}" for gateway in report.gateways]
    return "\n".join(lines)


def load_sensors(path: str | Path) -> SensorImportReport:
    """Register or update the detectors in the workbook at path; raise SensorImportError if any row is wrong."""
    sheets = {SENSORS: SENSOR_COLUMNS + (GATEWAY, FIRST_ALARM, SECOND_ALARM)} | ({GATEWAYS: GATEWAY_COLUMNS} if _has_sheet(path, GATEWAYS) else {})
    rows, errors = read_sheets(path, sheets, optional=OPTIONAL)
    if errors:
        # Without its sheet and headers no row can be read, so row checks would only add noise.
        raise SensorImportError(errors)
    with transaction():
        gateways = _GatewayChecker()
        listed = gateways.check(rows.get(GATEWAYS, []))
        checker = _Checker(Department.select().order_by(Department.id),
                           gateways={g.code for g in Gateway.select()} | {g.code for g in listed})
        checked = checker.check(rows[SENSORS])
        if checker.errors or gateways.errors:
            raise SensorImportError(gateways.errors + checker.errors)
        new_gateways, gateways_updated = _save_gateways(listed)
        report = _save(checked)
        RegistryVersion.bump()
        return SensorImportReport(report.updated, report.new, new_gateways, gateways_updated)


def rekey_sensor(code: str) -> str:
    """Give the detector a new secret and return it; the old one stops working at once."""
    secret = secrets.token_hex(SECRET_BYTES)
    with transaction():
        if not Sensor.update(secret=secret).where(Sensor.code == code.strip()).execute():
            raise UnknownSensor(code.strip())
        RegistryVersion.bump()
    return secret


def split_gases(text: str) -> list[str]:
    """Split a 测量气体 cell into upper-case codes, in the order written, dropping blanks and repeats."""
    parts = GAS_SEPARATORS.split(unicodedata.normalize("NFKC", text).upper())
    return list(dict.fromkeys(part for part in parts if part))


@dataclass(frozen=True)
class _Checked:
    """One row, as the fields it sets; unit and enabled are absent when their column is."""

    code: str
    fields: dict


class _Checker(RowChecker):
    """Check the detector rows against each other and against the org in the database."""

    def __init__(self, departments, *, gateways: set[str] = frozenset()):
        super().__init__()
        self.gateway_codes = gateways
        self.by_code: dict[str, Department] = {}
        self.by_name: dict[str, list[Department]] = {}
        for department in departments:
            self.by_code[department.code] = department
            self.by_name.setdefault(department.name, []).append(department)

    def check(self, rows: list[SheetRow]) -> list[_Checked]:
        """Return the fields of each row, in sheet order."""
        if not rows:
            self.errors.append(RowError(SENSORS, None, None, "没有任何检测仪"))
        first_row: dict[str, int] = {}
        result = []
        for row in rows:
            self.check_basics(row, LIMITS, REQUIRED, CODE, first_row)
            code = row[CODE]
            if row[KIND] and row[KIND] not in KINDS:
                self.error(row, KIND, f"未知类型“{row[KIND]}”，可选：{'、'.join(KINDS)}")
            if row[KIND] == FIXED and row[AREA]:
                self.place(row)
            fields = dict(name=row[NAME], area=row[AREA], kind=row[KIND], gases=self.gases(row),
                          interval_seconds=self.interval(row))
            if UNIT in row.cells:
                fields["unit"] = self.unit(row)
            if ENABLED in row.cells:
                fields["enabled"] = self.enabled(row)
            if GATEWAY in row.cells:
                fields["gateway"] = self.gateway(row)
            if FIRST_ALARM in row.cells or SECOND_ALARM in row.cells:
                fields["set_points"] = self.set_points(row, fields["gases"])
            result.append(_Checked(code, fields))
        return result

    def place(self, row: SheetRow) -> None:
        """A fixed detector covers a node of the area tree and what lies under it: its area must be one."""
        from workflow import places
        if places.has_tree() and places.node_named(row[AREA]) is None:
            near = places.suggestions(row[AREA])
            self.error(row, AREA, f"“{row[AREA]}”不是区域表中的区域" + (f"，最接近的是：{'、'.join(near)}" if near else ""))

    def gases(self, row: SheetRow) -> list[str]:
        codes = split_gases(row[GAS])
        for code in codes:
            if code not in GASES:
                self.error(row, GAS, f"未知气体“{code}”，可选：{'、'.join(GASES)}")
        if row[GAS] and not codes:
            self.error(row, GAS, "不能为空")
        return [gas for gas in GASES if gas in codes]

    def _points(self, row: SheetRow, column: str, gases: list[str]) -> dict[str, float]:
        """Read a cell such as "H2S=5 CO=15" into {gas: value}; each gas must be one the detector measures."""
        found = {}
        for part in GAS_SEPARATORS.split(unicodedata.normalize("NFKC", row.cells.get(column, ""))):
            if not part:
                continue
            gas, sep, number = part.upper().partition("=")
            try:
                value = float(number) if sep else None
            except ValueError:
                value = None
            if value is None:
                self.error(row, column, f"“{part}”应写成“气体=数值”，例如 H2S=5")
            elif gas not in gases:
                self.error(row, column, f"{gas} 不是本检测仪的测量气体（{'、'.join(gases) or '无'}）")
            else:
                found[gas] = value
        return found

    def set_points(self, row: SheetRow, gases: list[str]) -> dict | None:
        """Return the detector's own {gas: [first, second]}; a point looser than the standard is refused."""
        first, second = self._points(row, FIRST_ALARM, gases), self._points(row, SECOND_ALARM, gases)
        own = {}
        for gas in [g for g in gases if g in first or g in second]:
            problems = set_point_problems(gas, first.get(gas), second.get(gas))
            for problem in problems:
                self.error(row, FIRST_ALARM if gas in first else SECOND_ALARM, problem)
            default = TABLE[gas]
            own[gas] = [first.get(gas, default.first), second.get(gas, default.second)]
        return own or None

    def interval(self, row: SheetRow) -> int | None:
        text = row[INTERVAL]
        if text and not (text.isdecimal() and int(text) in INTERVAL_RANGE):
            self.error(row, INTERVAL, f"“{text}”不是 {INTERVAL_RANGE.start} 到 {INTERVAL_RANGE.stop - 1} 之间的整数")
        return int(text) if text.isdecimal() else None

    def unit(self, row: SheetRow) -> Department | None:
        text = row[UNIT]
        if not text:
            return None
        if text in self.by_code:
            return self.by_code[text]
        named = self.by_name.get(text, [])
        if len(named) > 1:
            codes = "、".join(d.code for d in named)
            self.error(row, UNIT, f"有 {len(named)} 个部门名为“{text}”（{codes}），请填部门编码")
        elif not named:
            self.error(row, UNIT, f"未知单位“{text}”（系统中没有这个部门编码或部门名称，请先导入组织架构表）")
        return named[0] if named else None

    def gateway(self, row: SheetRow) -> str | None:
        text = row[GATEWAY].upper() if row[GATEWAY] else None
        if text and text not in self.gateway_codes:
            self.error(row, GATEWAY, f"未知网关“{text}”（系统和“{GATEWAYS}”表中都没有这个编号）")
        return text

    def enabled(self, row: SheetRow) -> bool:
        text = row[ENABLED] or YES
        if text not in (YES, NO):
            self.error(row, ENABLED, f"应填“{YES}”或“{NO}”，不是“{text}”")
        return text != NO


def _save(rows: list[_Checked]) -> SensorImportReport:
    """Create or update the file's detectors; the others are left as they are."""
    known = {sensor.code: sensor for sensor in Sensor.select().where(Sensor.code.in_([r.code for r in rows]))}
    new, updated = [], 0
    for row in rows:
        sensor = known.get(row.code)
        fields = dict(row.fields)
        if "gateway" in fields:
            fields["gateway"] = Gateway.get(Gateway.code == fields["gateway"]) if fields["gateway"] else None
        row = _Checked(row.code, fields)
        if sensor is None:
            sensor = Sensor.create(code=row.code, secret=secrets.token_hex(SECRET_BYTES), **row.fields)
            new.append(NewSensor(sensor.code, sensor.name, sensor.secret))
        else:
            # The secret stays: the detector in the field still signs with it.
            for name, value in row.fields.items():
                setattr(sensor, name, value)
            sensor.save()
            updated += 1
    return SensorImportReport(updated, tuple(new))


def _has_sheet(path: str | Path, name: str) -> bool:
    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True)
    except Exception:  # noqa: BLE001 - read_sheets names what is wrong with the file
        return False
    try:
        return name in book.sheetnames
    finally:
        book.close()


@dataclass(frozen=True)
class _GatewayRow:
    code: str
    name: str
    enabled: bool | None


class _GatewayChecker(RowChecker):
    """Check the 网关 sheet's rows."""

    def check(self, rows: list[SheetRow]) -> list[_GatewayRow]:
        first_row: dict[str, int] = {}
        result = []
        for row in rows:
            self.check_lengths(row, {CODE: 32, NAME: 100})
            for column in (CODE, NAME):
                if not row[column]:
                    self.error(row, column, "不能为空")
            code = row[CODE].upper()
            if code in first_row:
                self.error(row, CODE, f"编号“{code}”与第{first_row[code]}行重复")
            elif code:
                first_row[code] = row.row
            enabled = None
            if ENABLED in row.cells:
                text = row[ENABLED] or YES
                if text not in (YES, NO):
                    self.error(row, ENABLED, f"应填“{YES}”或“{NO}”，不是“{text}”")
                enabled = text != NO
            result.append(_GatewayRow(code, row[NAME], enabled))
        return result


def _save_gateways(rows: list[_GatewayRow]) -> tuple[tuple[NewGateway, ...], int]:
    """Create or update the sheet's gateways; a registered one keeps its secret."""
    new, updated = [], 0
    for row in rows:
        gateway = Gateway.get_or_none(Gateway.code == row.code)
        fields = {"name": row.name} | ({} if row.enabled is None else {"enabled": row.enabled})
        if gateway is None:
            gateway = Gateway.create(code=row.code, secret=secrets.token_hex(SECRET_BYTES), **fields)
            new.append(NewGateway(gateway.code, gateway.name, gateway.secret))
        else:
            Gateway.update(**fields).where(Gateway.id == gateway.id).execute()
            updated += 1
    return tuple(new), updated
