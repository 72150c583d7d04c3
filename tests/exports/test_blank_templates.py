"""Blank import workbooks: each header explains itself, and a filled-in template imports as it is."""
from __future__ import annotations

from datetime import datetime

from openpyxl import load_workbook

from certs import sheet as certificate_sheet
from exports import templates, weights
from exports.org_import import load_org
from exports.samples import build_sample_org as org_sample, build_sample_sensors as sensor_sample
from exports.sensor_import import SENSOR_COLUMNS, load_sensors
from exports.sheet import Heading
from models import Certificate

HEADING = Heading("示例化工厂", "—", datetime(2026, 12, 1, 8, 0))


def test_every_header_carries_a_comment_saying_what_goes_there(tmp_path):
    paths = templates.write_all(tmp_path, HEADING)
    assert [p.name for p in paths] == ["组织架构表（模板）.xlsx", "证书表（模板）.xlsx", "检测仪表（模板）.xlsx", "评价权重.xlsx"]
    expected = {"部门": templates.ORG_NOTES, "人员": templates.PEOPLE_NOTES, "证书": templates.CERTIFICATE_NOTES,
                "检测仪": templates.SENSOR_NOTES}
    for path in paths[:3]:
        book = load_workbook(path)
        for sheet in book:
            headers = [c.value for c in sheet[1]]
            assert headers == list(expected[sheet.title]) and sheet.max_row == 1 and sheet.freeze_panes == "A2"
            for cell in sheet[1]:
                assert cell.comment.text == f"{cell.value}：{expected[sheet.title][cell.value]}"
    assert list(templates.SENSOR_NOTES) == list(SENSOR_COLUMNS)
    assert list(templates.CERTIFICATE_NOTES) == list(certificate_sheet.COLUMNS)   # as load-org reads them


def test_a_filled_in_template_imports(db, instance, tmp_path):
    org_path, cert_path, sensor_path, _ = templates.write_all(tmp_path, HEADING)
    book = load_workbook(org_path)
    for row in org_sample.DEPARTMENT_ROWS:
        book["部门"].append(row)
    for row in org_sample.PEOPLE_ROWS:
        book["人员"].append(row)
    book.save(org_path)
    # The certificate template is the org workbook's 证书 sheet: copied in, it loads with the org.
    blank = load_workbook(cert_path)["证书"]
    sheet = book.create_sheet("证书")
    sheet.append([c.value for c in blank[1]])
    headers = [c.value for c in blank[1]]
    row = {"姓名": "蒋焊", "账号": "jianghan", "证书类型": "焊接与热切割证", "证书编号": "T-2026-0001",
           "有效期至": "2030-12-31"}
    sheet.append([row.get(h) for h in headers])
    book.save(org_path)
    report = load_org(org_path)
    assert (report.departments_created, report.people_created) == (7, 23)
    assert [(c.person.name, c.kind) for c in Certificate.select()] == [("蒋焊", "焊接与热切割证")]
    book = load_workbook(sensor_path)
    for row in sensor_sample.ROWS:
        book["检测仪"].append(row)
    book.save(sensor_path)
    assert load_sensors(sensor_path).created == len(sensor_sample.ROWS)


def test_the_weights_template_reads_back_as_the_defaults(tmp_path):
    path = templates.write_all(tmp_path, HEADING, ("weights",))[0]
    assert weights.read(path) == weights.DEFAULT
