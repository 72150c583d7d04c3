"""持证情况统计表 from the registry: per type, who needs it, who holds it, valid, expiring, expired."""
from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook

from certs import stats
from exports import certificates
from exports.build import build_certificates
from exports.period import month as read_month
from exports.run import Run
from models import Certificate
from tests.conftest import MORNING


@pytest.fixture
def registered():
    stats.register()
    yield
    certificates.unregister()


def test_each_type_counts_holders_against_the_people_whose_roles_need_it(plant):
    Certificate.update(valid_until=date(2026, 12, 10)).where(Certificate.number == "HJ-jianghan").execute()
    Certificate.update(valid_until=date(2026, 11, 1)).where(Certificate.number == "HJ-shenli").execute()
    by_kind = {row[0]: row for row in stats.rows(read_month("2026-11"), MORNING)}
    # Five workers hold welding: one expiring within 30 days, one expired; four of five still hold it validly.
    assert by_kind["焊接与热切割证"] == ["焊接与热切割证", "作业人", 5, 5, 3, 1, 1, 80.0]
    assert by_kind["监护人培训合格证"] == ["监护人培训合格证", "监护人", 4, 4, 4, 0, 0, 100.0]
    # An internal authorisation that no role needs yet: nobody needs it and no rate is given.
    assert by_kind["动火监护人上岗授权"] == ["动火监护人上岗授权", "", 0, 0, 0, 0, 0, None]


def test_the_export_writes_the_registrys_rows(plant, registered, tmp_path):
    built = build_certificates(read_month("2026-11"), tmp_path / "c.xlsx", Run.current())
    assert built.summary == "持证记录 7 条"   # the five statutory kinds and two written by quizzes
    sheet = load_workbook(built.path)["持证情况统计表"]
    assert [c.value for c in sheet[4]][:4] == ["高处作业证", "作业人", 5, 5]
