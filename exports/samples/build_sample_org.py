"""Build the sample plant's org workbook: python -m exports.samples.build_sample_org [OUT]."""
from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

from models.area import AREA_KINDS
from models.org import DEPARTMENT_KINDS, ROLES

from .. import area_sheet

from ..org_workbook import (CODE, DEPARTMENT, DEPARTMENTS, DEPT_NAME, DINGTALK, KIND, MOBILE, NAME,
                            PARENT, PEOPLE, ROLE, WECOM)
from .layout import fill, pick_list

OUT = Path(__file__).with_name("示例工厂组织架构.xlsx")

DEPARTMENT_HEADERS = (CODE, DEPT_NAME, PARENT, KIND)
DEPARTMENT_ROWS = (
    ("PLANT", "示例化工厂", "", "厂领导"),
    ("SAFE", "安全环保部", "PLANT", "安全管理部门"),
    ("PROD", "生产技术部", "PLANT", "专业部门"),
    ("EQUIP", "设备动力部", "PLANT", "专业部门"),
    ("U1", "常减压车间", "PROD", "基层单位"),
    ("U2", "储运车间", "PROD", "基层单位"),
    ("ELEC", "电气车间", "EQUIP", "基层单位"),
)

PEOPLE_HEADERS = (NAME, WECOM, DINGTALK, MOBILE, DEPARTMENT, ROLE)
# Engine tests log in as these accounts: change them only together with the tests.
PEOPLE_ROWS = (
    ("赵建国", "zhaojianguo", "dt_zhaojianguo", "13800000001", "PLANT", "主管领导"),
    ("钱安平", "qiananping", "dt_qiananping", "13800000002", "SAFE", "安全管理部门负责人"),
    ("孙立", "sunli", "", "13800000003", "SAFE", "安全员、应急救援人员"),
    ("吕明", "lvming", "", "13800000004", "SAFE", "系统管理员"),
    ("李正", "lizheng", "dt_lizheng", "13800000005", "PROD", "专业部门负责人"),
    ("周强", "zhouqiang", "", "13800000006", "EQUIP", "专业部门负责人、应急救援人员"),
    ("吴海", "wuhai", "dt_wuhai", "13800000007", "U1", "基层单位负责人"),
    ("施文", "shiwen", "", "13800000008", "U1", "基层单位负责人"),
    ("郑计", "zhengji", "", "13800000009", "U1", "计划员"),
    ("王评", "wangping", "", "13800000010", "U1", "作业评估人"),
    ("冯交", "fengjiao", "", "13800000011", "U1", "交底人"),
    ("陈检", "chenjian", "dt_chenjian", "13800000012", "U1", "气体检测人"),
    ("褚卫", "chuwei", "", "13800000013", "U1", "监护人"),
    ("卫东", "weidong", "", "13800000014", "U1", "监护人、作业人"),
    ("蒋焊", "jianghan", "", "13800000015", "U1", "作业人"),
    ("沈力", "shenli", "", "13800000016", "U1", "作业人"),
    ("韩雪", "", "dt_hanxue", "13800000017", "U1", "作业人"),
    ("杨收", "yangshou", "", "13800000018", "U1", "验收人"),
    ("朱岩", "zhuyan", "", "13800000019", "U1", "安全员"),
    ("秦川", "qinchuan", "", "13800000020", "U2", "基层单位负责人、计划员、作业评估人、交底人、验收人"),
    ("何亮", "heliang", "", "13800000021", "U2", "气体检测人、监护人"),
    ("许电", "xudian", "", "13800000022", "ELEC", "配送电单位负责人"),
    ("罗电", "luodian", "", "13800000023", "ELEC", "作业人、监护人"),
)

AREA_HEADERS = (area_sheet.NAME, area_sheet.PARENT, area_sheet.KIND, area_sheet.LATITUDE, area_sheet.LONGITUDE,
                area_sheet.RADIUS, area_sheet.OFFICER, area_sheet.COORDINATOR)
# The places the sample permits name (workflow/walkthrough.py, the tests): 1#罐区 and 11#罐区 side by
# side, so that a name inside another name is never taken for the same place.
AREA_ROWS = (
    ("示例化工厂", "", "厂区", "30.2741", "120.1551", "1500", "sunli", ""),
    ("常减压装置", "示例化工厂", "装置", "30.2745", "120.1548", "200", "zhuyan", "sunli"),
    ("V-101", "常减压装置", "部位", "", "", "", "", ""),
    ("P-12", "常减压装置", "部位", "", "", "", "", ""),
    ("东侧空地", "常减压装置", "区域", "", "", "", "", ""),
    ("检修区", "常减压装置", "区域", "", "", "", "", ""),
    ("北侧道路", "常减压装置", "区域", "", "", "", "", ""),
    ("塔区", "常减压装置", "区域", "", "", "", "", ""),
    ("塔T-101", "塔区", "部位", "", "", "", "", ""),
    ("反应釜区", "常减压装置", "区域", "", "", "", "", ""),
    ("储运罐区", "示例化工厂", "装置", "30.2732", "120.1562", "300", "sunli", "qinchuan"),
    ("1#罐区", "储运罐区", "区域", "30.2730", "120.1560", "60", "", ""),
    ("2#罐区", "储运罐区", "区域", "", "", "", "", ""),
    ("3#罐区", "储运罐区", "区域", "30.2734", "120.1566", "60", "", ""),
    ("11#罐区", "储运罐区", "区域", "30.2728", "120.1570", "60", "", ""),
    ("装卸站", "储运罐区", "区域", "", "", "", "", ""),
    ("厂区道路", "示例化工厂", "区域", "", "", "", "", "sunli"),
    ("厂区三号路", "厂区道路", "部位", "", "", "", "", ""),
)

CERTIFICATE_HEADERS = ("姓名", "账号", "证书类型", "证书编号", "发证机关", "发证日期", "有效期至", "培训记录")
# Every worker holds each worker's certificate and every guardian the guardian's, valid for years, so
# that any sample permit can be staffed; the demo and the tests expire or revoke them on purpose.
WORKER_CERTIFICATES = (("高处作业证", "GC"), ("电工作业证", "DG"), ("焊接与热切割证", "HJ"), ("起重作业证", "QZ"))
GUARDIAN_CERTIFICATES = (("监护人培训合格证", "JH"),)


def _certificate_rows() -> list[tuple]:
    rows = []
    for name, wecom, dingtalk, _, _, roles in PEOPLE_ROWS:
        held = ((WORKER_CERTIFICATES if "作业人" in roles else ())
                + (GUARDIAN_CERTIFICATES if "监护人" in roles else ()))
        for kind, code in held:
            rows.append((name, wecom or dingtalk, kind, f"{code}-{wecom or dingtalk}", "示例市应急管理局",
                         "2024-01-15", "2036-01-14", "2024-01 初训合格"))
    return rows


def build(out: Path = OUT) -> Path:
    """Write the sample plant's workbook to out and return its path."""
    book = Workbook()
    departments = book.active
    departments.title = DEPARTMENTS
    fill(departments, DEPARTMENT_HEADERS, DEPARTMENT_ROWS)
    pick_list(departments, column=DEPARTMENT_HEADERS.index(KIND) + 1, choices=DEPARTMENT_KINDS)
    people = book.create_sheet(PEOPLE)
    fill(people, PEOPLE_HEADERS, PEOPLE_ROWS)
    fill(book.create_sheet("证书"), CERTIFICATE_HEADERS, _certificate_rows())
    areas = book.create_sheet(area_sheet.AREAS)
    fill(areas, AREA_HEADERS, AREA_ROWS)
    pick_list(areas, column=AREA_HEADERS.index(area_sheet.KIND) + 1, choices=AREA_KINDS)
    notes = book.create_sheet("说明")
    fill(notes, ("部门类型", "角色（多个用 、 分隔）"),
         [(DEPARTMENT_KINDS[i] if i < len(DEPARTMENT_KINDS) else "", role) for i, role in enumerate(ROLES)])
    book.save(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
