"""Contractors' entry training: where the matrix names it, a temporary authorisation counts only while the
contractor holds the pass of the plant's entry course."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from certs import matrix
from exports.samples.build_sample_training import ENTRY, OUT as SAMPLE
from models import Certificate, Course, find_person
from tests.certs.test_contractors import SUBMITTED_AT, contractor, refused_on_submit  # noqa: F401
from tests.conftest import MORNING
from tests.workflow.test_rules import hot, reload
from training import quiz, workbook
from workflow import submit

KIND = "承包商入厂安全教育合格"


def entry_required(tmp_path: Path, monkeypatch) -> None:
    text = matrix.MATRIX.read_text(encoding="utf-8").replace(f'# entry_training = "{KIND}"',
                                                             f'entry_training = "{KIND}"')
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    assert matrix.load(path).contractor_entry == KIND
    monkeypatch.setattr(matrix, "current", lambda: matrix.load(path))


def test_without_the_setting_a_contractor_needs_no_entry_training(contractor):
    assert matrix.current().contractor_entry == ""
    permit = hot("一级", crew=("konghan",))
    submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
    assert reload(permit).state == "in_approval"


def test_a_contractor_is_refused_until_the_entry_course_is_passed(contractor, tmp_path, monkeypatch):
    entry_required(tmp_path, monkeypatch)
    refused_on_submit(hot("一级", crew=("konghan",)),
                      f"孔焊（作业人，承包商）尚未通过入厂安全教育（没有{KIND}），临时授权暂不生效")
    workbook.load(SAMPLE)
    course = Course.get(Course.code == ENTRY)
    assert course in quiz.open_courses(contractor)                       # open to a contractor …
    assert course not in quiz.open_courses(find_person("jianghan"))      # … and not to an employee
    attempt = quiz.start(course, by=contractor)
    quiz.answer(attempt.id, 0, [1], by=contractor, now=MORNING - timedelta(days=1))
    quiz.answer(attempt.id, 1, [1], by=contractor, now=MORNING - timedelta(days=1))
    assert Certificate.get(Certificate.kind == KIND).person == contractor
    permit = hot("一级", crew=("konghan",))
    submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
    assert reload(permit).state == "in_approval"


def test_an_expired_entry_pass_refuses_the_contractor_again(contractor, tmp_path, monkeypatch):
    entry_required(tmp_path, monkeypatch)
    Certificate.create(person=contractor, kind=KIND, number="PX-CBS-RC-old", valid_until=date(2026, 11, 1))
    refused_on_submit(hot("一级", crew=("konghan",)),
                      f"孔焊（作业人，承包商）的{KIND}（PX-CBS-RC-old）已于 2026-11-01 过期，须重新参加入厂安全教育，"
                      "临时授权暂不生效")


def test_a_matrix_naming_an_unknown_kind_as_entry_training_is_refused(tmp_path):
    path = tmp_path / "matrix.toml"
    path.write_text(matrix.MATRIX.read_text(encoding="utf-8").replace(
        f'# entry_training = "{KIND}"', 'entry_training = "入厂证"'), encoding="utf-8")
    with pytest.raises(ValueError, match="入厂证"):
        matrix.load(path)


def test_a_revoked_entry_pass_does_not_count(contractor, tmp_path, monkeypatch):
    entry_required(tmp_path, monkeypatch)
    Certificate.create(person=contractor, kind=KIND, number="PX-CBS-RC-void", valid_until=date(2027, 11, 1),
                       revoked_at=MORNING - timedelta(days=2))
    refused_on_submit(hot("一级", crew=("konghan",)),
                      f"孔焊（作业人，承包商）尚未通过入厂安全教育（没有{KIND}），临时授权暂不生效")
