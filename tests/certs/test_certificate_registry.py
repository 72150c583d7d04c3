"""The certificate registry: the 证书 sheet, and the checks at assignment, approval and start."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from certs import matrix
from exports.org_import import OrgImportError, format_report, load_org
from exports.samples.build_sample_org import (CERTIFICATE_HEADERS, DEPARTMENT_HEADERS, DEPARTMENT_ROWS,
                                              PEOPLE_HEADERS, PEOPLE_ROWS, _certificate_rows)
from app import wire_gates
from jobs.scans import certificate_scan
from models import Certificate, Outbox, find_person
from tests.conftest import MORNING
from tests.exports.conftest import write_sheets
from tests.workflow.test_rules import (at_start, clock_for, drive_to, gas_test, hot, make, refused,
                                       reload, start_work)
from workflow import GateNotMet, GateNotWired, InvalidPermit, check_in, hooks, sign, submit

SAMPLE_CERTIFICATES = _certificate_rows()
NUMBER = CERTIFICATE_HEADERS.index("证书编号")
VALID = CERTIFICATE_HEADERS.index("有效期至")


def write_org(path, certificates=SAMPLE_CERTIFICATES):
    """Write the sample org with the given 证书 rows and return its path."""
    return write_sheets(path, {"部门": (DEPARTMENT_HEADERS, DEPARTMENT_ROWS), "人员": (PEOPLE_HEADERS, PEOPLE_ROWS),
                               "证书": (CERTIFICATE_HEADERS, certificates)})


def certificates_with(number, **changes):
    """Return the sample 证书 rows with the row of certificate number changed by header."""
    rows = []
    for row in SAMPLE_CERTIFICATES:
        row = list(row)
        if row[NUMBER] == number:
            for header, value in changes.items():
                row[CERTIFICATE_HEADERS.index(header)] = value
        rows.append(row)
    return rows


def expire(number: str, on: date) -> None:
    Certificate.update(valid_until=on).where(Certificate.number == number).execute()


# --- the 证书 sheet ---

def test_the_sample_plant_holds_the_certificates_its_roles_need(plant):
    welder = Certificate.get(Certificate.number == "HJ-jianghan")
    assert (welder.person.name, welder.kind, welder.valid_until, welder.issuer) == (
        "蒋焊", "焊接与热切割证", date(2036, 1, 14), "示例市应急管理局")
    assert Certificate.select().where(Certificate.kind == "监护人培训合格证").count() == 4


def test_a_past_expiry_date_is_loaded_but_flagged(plant, tmp_path):
    report = load_org(write_org(tmp_path / "org.xlsx", certificates_with("HJ-jianghan", 有效期至="2026-01-31")))
    assert "已过期 1 条" in format_report(report)
    row = 2 + [r[NUMBER] for r in SAMPLE_CERTIFICATES].index("HJ-jianghan")
    assert f"第{row}行 蒋焊 焊接与热切割证 2026-01-31" in format_report(report)
    assert Certificate.get(Certificate.number == "HJ-jianghan").valid_until == date(2026, 1, 31)


@pytest.mark.parametrize("changes, column, message", [
    ({"有效期至": "2026-13-01"}, "有效期至", "“2026-13-01”不是日期"),
    ({"有效期至": "明年"}, "有效期至", "不是日期"),
    ({"证书类型": "焊工证"}, "证书类型", "未知证书类型“焊工证”，可选：高处作业证"),
    ({"证书编号": "GC-jianghan"}, "证书编号", "与第"),
    ({"账号": "nobody"}, "账号", "组织架构中没有账号“nobody”"),
    ({"姓名": "沈力"}, "账号", "属于 蒋焊(jianghan)，不是 沈力"),
])
def test_a_bad_certificate_row_is_refused_by_row_and_nothing_is_written(plant, tmp_path, changes, column,
                                                                         message):
    before = list(Certificate.select().order_by(Certificate.id).dicts())
    path = write_org(tmp_path / "org.xlsx", certificates_with("HJ-jianghan", **changes))
    with pytest.raises(OrgImportError) as caught:
        load_org(path)
    first = caught.value.errors[0]
    assert (first.sheet, first.column) == ("证书", column)
    assert first.row >= 2 and message in first.message
    assert list(Certificate.select().order_by(Certificate.id).dicts()) == before


def test_a_certificate_left_out_of_a_re_import_is_revoked(plant, tmp_path):
    rows = [r for r in SAMPLE_CERTIFICATES if r[NUMBER] != "JH-chuwei"]
    assert "注销 1" in format_report(load_org(write_org(tmp_path / "org.xlsx", rows)))
    assert Certificate.get(Certificate.number == "JH-chuwei").revoked_at is not None
    load_org(write_org(tmp_path / "again.xlsx"))
    assert Certificate.get(Certificate.number == "JH-chuwei").revoked_at is None


def test_the_matrix_follows_the_rules():
    m = matrix.current()
    assert m.required("作业人", "hot_work") == ["焊接与热切割证"]
    assert m.required("作业人", "confined_space") == []
    assert m.required("监护人", "excavation") == ["监护人培训合格证"]
    assert m.warn_days["焊接与热切割证"] == 60 and m.warn_days["高处作业证"] == 45


# --- checks at assignment, approval and start ---

def test_an_expired_certificate_blocks_the_assignment_naming_it_and_its_date(plant):
    expire("HJ-jianghan", date(2026, 10, 1))
    permit = hot("一级")
    with refused(InvalidPermit, "蒋焊（作业人）的焊接与热切割证（HJ-jianghan）已于 2026-10-01 过期", permit):
        submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))


def test_a_certificate_too_close_to_expiry_blocks_the_assignment(plant):
    # The permit ends on 11-24 (Shanghai); with the 30-day margin the certificate must last to 12-24.
    expire("JH-chuwei", date(2026, 12, 20))
    permit = hot("一级")
    with refused(InvalidPermit, "褚卫（监护人）的监护人培训合格证（JH-chuwei）有效期至 2026-12-20，"
                                "须至少到 2026-12-24（作业结束后 30 天）", permit):
        submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    expire("JH-chuwei", date(2026, 12, 24))
    submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))


def test_a_certificate_of_the_wrong_type_does_not_count(plant):
    Certificate.delete().where(Certificate.number == "GC-shenli").execute()
    permit = make("height", crew=("shenli",))   # 沈力 still holds welding, electrician and lifting
    with refused(InvalidPermit, "沈力（作业人）没有登记高处作业证", permit):
        submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))


def test_another_person_can_be_picked_after_a_refusal(plant):
    from workflow import edit_draft
    expire("HJ-jianghan", date(2026, 10, 1))
    permit = hot("一级")
    with pytest.raises(InvalidPermit):
        submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=2))
    edit_draft(permit.no, by=permit.applicant, crew=[find_person("shenli")], now=MORNING - timedelta(hours=2))
    assert submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1)).state == "in_approval"


def test_a_certificate_revoked_while_the_permit_waits_blocks_the_approval(plant, tmp_path):
    permit = hot("一级")
    clock = clock_for(permit)
    drive_to(permit, "approve_unit", clock)
    load_org(write_org(tmp_path / "org.xlsx", [r for r in SAMPLE_CERTIFICATES if r[NUMBER] != "JH-chuwei"]))
    check_in(permit.no, by=find_person("wuhai"), now=clock.tick())
    with refused(GateNotMet, "褚卫（监护人）的监护人培训合格证（JH-chuwei）已于", permit) as caught:
        sign(permit.no, "approve_unit", by=find_person("wuhai"), now=clock.tick())
    assert caught.value.message.endswith("注销")


def test_a_certificate_that_expires_while_the_permit_waits_blocks_the_start(plant):
    permit = hot("一级")
    clock = clock_for(permit)
    at_start(permit, clock)
    gas_test(permit, clock.tick())
    expire("HJ-jianghan", date(2026, 11, 20))
    with refused(GateNotMet, "蒋焊（作业人）的焊接与热切割证（HJ-jianghan）已于 2026-11-20 过期", permit):
        start_work(permit, clock.tick())
    expire("HJ-jianghan", date(2030, 1, 1))
    assert start_work(permit, clock.tick()).state == "in_progress"


def test_the_certificate_check_is_wired_by_the_root_and_cannot_be_left_unregistered(plant):
    permit = hot("一级")
    expire("HJ-jianghan", date(2026, 10, 1))
    hooks.CHECKS["certificates"].clear()
    with pytest.raises(GateNotWired, match="人员持证检查"):
        hooks.problems("certificates", reload(permit), roles=("作业人",), at=MORNING)
    wire_gates()
    assert hooks.problems("certificates", reload(permit), roles=("作业人",), at=MORNING) == [
        "蒋焊（作业人）的焊接与热切割证（HJ-jianghan）已于 2026-10-01 过期"]


# --- the daily expiry scan ---

def test_the_daily_scan_warns_each_holder_once_within_the_kinds_warning_days(plant):
    expire("HJ-jianghan", date(2026, 12, 31))   # welding warns 60 days ahead: due on 11-24
    expire("GC-jianghan", date(2027, 1, 20))    # height warns 45 days ahead: not yet
    expire("JH-chuwei", date(2026, 11, 30))     # guardian training warns 30 days ahead: due
    assert certificate_scan(MORNING.isoformat()) == 2
    texts = sorted(row.payload["text"] for row in Outbox.select().where(Outbox.dedupe_key.startswith("cert-expiry")))
    assert texts == ["您的焊接与热切割证（HJ-jianghan）将于 2026-12-31 到期（还有 37 天），到期后不能担任需要该证的作业角色，请及时复审或换证。",
                     "您的监护人培训合格证（JH-chuwei）将于 2026-11-30 到期（还有 6 天），到期后不能担任需要该证的作业角色，请及时复审或换证。"]
    assert certificate_scan((MORNING + timedelta(hours=1)).isoformat()) == 0
    expire("JH-chuwei", date(2026, 12, 1))   # renewed, yet still soon: warned again about the new date
    assert certificate_scan((MORNING + timedelta(days=1)).isoformat()) == 1
