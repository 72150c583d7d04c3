"""Blank import workbooks for admins: the org, certificates and detectors, each header explaining itself."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment

from certs import matrix, sheet as certs
from models.org import DEPARTMENT_KINDS, ROLES
from workflow.gas import GASES

from . import org_workbook as org, sensor_import as sensors, weights
from .samples.layout import fill, pick_list
from .sheet import new_book

AUTHOR = "电子作业票"
ORG_NOTES = {
    org.CODE: "部门编码，必填且不重复；再次导入时按它更新部门。",
    org.DEPT_NAME: "部门名称，必填。",
    org.PARENT: "上级部门的编码；最上级留空。上级可以写在本表后面，或已在系统中。",
    org.KIND: f"必填，可选：{'、'.join(DEPARTMENT_KINDS)}。",
}
PEOPLE_NOTES = {
    org.NAME: "姓名，必填。",
    org.WECOM: "企业微信账号（成员 UserID），本人在企业微信中收卡片、签字都靠它。",
    org.DINGTALK: "钉钉账号（userid）。",
    org.MOBILE: "手机号。企业微信账号、钉钉账号、手机至少填一项；再次导入时依次按它们认人。",
    org.DEPARTMENT: "所在部门的编码（部门表中或系统中已有），必填。",
    org.ROLE: f"角色，多个用 、 或 , 分隔，可空。可选：{'、'.join(ROLES)}。",
}
SENSOR_NOTES = {
    sensors.CODE: "检测仪编号，如 GD-0012，必填且不重复；再次导入时按它更新，密钥不变。",
    sensors.NAME: "名称，必填。",
    sensors.AREA: "区域/位置，必填。固定式检测仪覆盖地点中含此文字的作业票。",
    sensors.KIND: "便携（按编号绑定到作业票）或 固定（覆盖所在区域）。",
    sensors.GAS: f"测量的气体，必填，可选 {'、'.join(GASES)}，多个用 、 分隔。",
    sensors.INTERVAL: f"上报间隔秒，{sensors.INTERVAL_RANGE.start} 到 {sensors.INTERVAL_RANGE.stop - 1} 的整数，必填。",
    sensors.UNIT: "可空。所属单位的部门编码或部门名称，其安全员接收报警。",
    sensors.ENABLED: "可空。是 或 否，空为 是；停用的检测仪读数不被受理。",
}
# The org workbook's 证书 sheet, with the columns load-org reads (certs.sheet).
CERTIFICATE_NOTES = {
    certs.NAME: "持证人姓名，必填。本表即组织架构表的“证书”工作表：填好后把它复制进组织架构表，用 load-org 导入。",
    certs.ACCOUNT: "持证人的任一账号（企业微信、钉钉或手机），用来对应组织架构表中的人；也可填后面三列之一。",
    certs.WECOM: "持证人的企业微信账号。",
    certs.DINGTALK: "持证人的钉钉账号。",
    certs.MOBILE: "持证人的手机号。",
    certs.KIND: f"必填，可选：{'、'.join(matrix.current().kinds)}（certs/matrix.toml）。",
    certs.NUMBER: "证书上的编号，必填；再次导入时按它更新。",
    certs.ISSUER: "可空。",
    certs.ISSUED: "日期，如 2024-03-01。",
    certs.VALID: "日期，必填；按证书类型到期前 30–60 天提醒，过期后不能担任需要该证的角色。",
    certs.TRAINING: "可空。如 2024-01 初训合格。",
}
FILES = {"org": "组织架构表（模板）.xlsx", "certificates": "证书表（模板）.xlsx", "sensors": "检测仪表（模板）.xlsx",
         "weights": weights.FILE}


def _sheet(ws, notes: dict[str, str]) -> None:
    headers = tuple(notes)
    fill(ws, headers, [])
    for cell, header in zip(ws[1], headers):
        cell.comment = Comment(f"{header}：{notes[header]}", AUTHOR, width=260, height=110)


def org_template(out: Path) -> Path:
    book = Workbook()
    departments = book.active
    departments.title = org.DEPARTMENTS
    _sheet(departments, ORG_NOTES)
    pick_list(departments, column=list(ORG_NOTES).index(org.KIND) + 1, choices=DEPARTMENT_KINDS)
    _sheet(book.create_sheet(org.PEOPLE), PEOPLE_NOTES)
    book.save(out)
    return out


def certificate_template(out: Path) -> Path:
    book = Workbook()
    book.active.title = certs.CERTIFICATES
    _sheet(book.active, CERTIFICATE_NOTES)
    book.save(out)
    return out


def sensor_template(out: Path) -> Path:
    book = Workbook()
    book.active.title = sensors.SENSORS
    _sheet(book.active, {column: SENSOR_NOTES[column] for column in sensors.SENSOR_COLUMNS})
    headers = list(sensors.SENSOR_COLUMNS)
    pick_list(book.active, column=headers.index(sensors.KIND) + 1, choices=sensors.KINDS)
    pick_list(book.active, column=headers.index(sensors.ENABLED) + 1, choices=(sensors.YES, sensors.NO))
    book.save(out)
    return out


def weights_template(out: Path, heading) -> Path:
    """Write the default weights, the 权重配置 sheet as reports carry it, for load-weights."""
    book = new_book()
    weights.write_sheet(book, heading)
    book.save(out)
    return out


def write_all(folder: Path, heading, which: tuple[str, ...] = tuple(FILES)) -> list[Path]:
    """Write the chosen blank workbooks into folder; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    makers = {"org": org_template, "certificates": certificate_template, "sensors": sensor_template,
              "weights": lambda out: weights_template(out, heading)}
    return [makers[name](folder / FILES[name]) for name in which]
