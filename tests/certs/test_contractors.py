"""Contractors' temporary authorisations: the 承包商 sheet, scope at assignment, expiry and its warning."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from exports.org_import import OrgImportError, format_report, load_org
from exports.samples.build_sample_org import (CERTIFICATE_HEADERS, DEPARTMENT_HEADERS, DEPARTMENT_ROWS,
                                              PEOPLE_HEADERS, PEOPLE_ROWS, _certificate_rows)
from jobs.scans import certificate_scan
from models import Authorisation, Outbox, find_person
from tests.conftest import MORNING
from tests.workflow.test_rules import hot, make, refused, reload
from workflow import InvalidPermit, submit

CONTRACTOR = ("孔焊", "konghan", "", "13900000001", "U1", "作业人")
CONTRACTOR_HEADERS = ("姓名", "账号", "承包商单位", "作业类型", "作业区域", "授权开始", "授权截止")
HOT_WORK_IN_TANKS = ("孔焊", "konghan", "华安检修公司", "动火作业", "3#罐区", "2026-11-01", "2026-11-30")
SUBMITTED_AT = MORNING - timedelta(hours=1)


def write_org(path, authorisations=(HOT_WORK_IN_TANKS,)):
    """Write the sample org plus the contractor 孔焊 (welding certificate, given authorisations)."""
    from tests.exports.conftest import write_sheets
    certificates = _certificate_rows() + [("孔焊", "konghan", "焊接与热切割证", "HJ-konghan", "", "", "2030-01-01", "")]
    return write_sheets(path, {"部门": (DEPARTMENT_HEADERS, DEPARTMENT_ROWS),
                               "人员": (PEOPLE_HEADERS, PEOPLE_ROWS + (CONTRACTOR,)),
                               "证书": (CERTIFICATE_HEADERS, certificates),
                               "承包商": (CONTRACTOR_HEADERS, authorisations)})


@pytest.fixture
def contractor(plant, tmp_path):
    report = load_org(write_org(tmp_path / "org.xlsx"))
    assert format_report(report).endswith("承包商授权 1 条")
    return find_person("konghan")


def refused_on_submit(permit, text):
    with refused(InvalidPermit, text, permit):
        submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)


def test_a_contractor_within_the_authorisation_may_be_put_on_the_permit(contractor):
    permit = hot("一级", crew=("konghan",))
    submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
    assert reload(permit).state == "in_approval"


def test_a_contractor_is_refused_work_of_another_type(contractor):
    Authorisation.update(work_types=["hot_work", "lifting"]).execute()
    refused_on_submit(make("height", crew=("konghan",)), "孔焊（作业人，承包商）未获授权从事高处作业")


def test_a_contractor_is_refused_outside_the_authorised_areas(contractor):
    Authorisation.update(areas=["2#罐区", "装卸站"]).execute()
    refused_on_submit(hot("一级", crew=("konghan",)),
                      "孔焊（作业人，承包商）的授权区域（2#罐区、装卸站）不含作业地点“3#罐区东侧管廊”")


def test_an_authorisation_that_ends_before_the_work_refuses_the_contractor(contractor):
    Authorisation.update(valid_to=date(2026, 11, 23)).execute()
    refused_on_submit(hot("一级", crew=("konghan",)),
                      "孔焊（作业人，承包商）的临时授权有效期为 2026-11-01 至 2026-11-23，不覆盖本次作业时间")


def test_a_contractor_dropped_from_the_sheet_stays_a_contractor_and_is_refused(contractor, tmp_path):
    load_org(write_org(tmp_path / "again.xlsx", authorisations=()))
    refused_on_submit(hot("一级", crew=("konghan",)), "孔焊（作业人，承包商）的临时授权已注销")


def test_employees_are_not_held_to_any_authorisation(contractor):
    permit = hot("一级")   # 蒋焊 and 沈力 are employees: no 承包商 row
    crew = [find_person(account) for account in ("jianghan", "shenli")]
    assert not Authorisation.select().where(Authorisation.person.in_(crew)).exists()
    submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
    assert reload(permit).state == "in_approval"


@pytest.mark.parametrize("changes, column, message", [
    ({3: "焊接"}, "作业类型", "未知作业类型“焊接”，可选：盲板抽堵作业、"),
    ({4: ""}, "作业区域", "不能为空（不限区域请填 全部）"),
    ({6: "2026-10-01"}, "授权截止", "早于授权开始 2026-11-01"),
    ({5: "11月1日"}, "授权开始", "不是日期"),
])
def test_a_bad_authorisation_row_is_refused_by_row(plant, tmp_path, changes, column, message):
    row = list(HOT_WORK_IN_TANKS)
    for index, value in changes.items():
        row[index] = value
    with pytest.raises(OrgImportError) as caught:
        load_org(write_org(tmp_path / "org.xlsx", authorisations=(row,)))
    first = caught.value.errors[0]
    assert (first.sheet, first.row, first.column) == ("承包商", 2, column) and message in first.message
    assert find_person("konghan") is None   # the whole import was rolled back


def test_the_daily_scan_warns_a_contractor_a_week_before_the_authorisation_ends(contractor):
    assert certificate_scan((MORNING - timedelta(days=2)).isoformat()) == 0   # 11-22: 8 days before
    assert certificate_scan(MORNING.isoformat()) == 1                         # 11-24: within 7 days
    (row,) = Outbox.select().where(Outbox.dedupe_key.startswith("auth-expiry"))
    assert row.person == contractor
    assert row.payload["text"] == ("您（华安检修公司）的临时作业授权将于 2026-11-30 到期（还有 6 天），"
                                   "到期后不能再被安排作业，请联系发包单位办理延期。")
    assert certificate_scan((MORNING + timedelta(days=1)).isoformat()) == 0
