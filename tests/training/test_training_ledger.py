"""The 培训记录 sheet of the ledger: one row per attempt finished in the period, with its answers."""
from __future__ import annotations

from openpyxl import load_workbook

from exports.build import build_ledger
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope
from exports.training_sheet import TRAINING, TRAINING_COLUMNS
from exports.samples.build_sample_training import OUT as SAMPLE
from models import Course, find_person
from tests.conftest import MORNING
from training import quiz, workbook


def test_the_ledger_lists_each_finished_attempt_with_score_answers_and_authorisation(plant, tmp_path):
    workbook.load(SAMPLE)
    course, chuwei, weidong = Course.get(Course.code == "DH-JH"), find_person("chuwei"), find_person("weidong")
    passed = quiz.start(course, by=chuwei)
    for asked, chosen in enumerate(([1], [1], [0, 1, 2], [1], [0])):
        quiz.answer(passed.id, asked, chosen, by=chuwei, now=MORNING)
    failed = quiz.start(course, by=weidong)
    for asked, chosen in enumerate(([1], [0], [3], [0], [1])):
        quiz.answer(failed.id, asked, chosen, by=weidong, now=MORNING)
    quiz.start(course, by=weidong)   # open: not finished, not listed

    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    sheet = load_workbook(built.path)[TRAINING]
    assert [c.value for c in sheet[3]] == [c.header for c in TRAINING_COLUMNS]
    rows = [dict(zip([c.header for c in TRAINING_COLUMNS], r)) for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert built.rows[TRAINING] == 2
    assert [(r["姓名"], r["第几次"], r["得分"], r["结果"]) for r in rows] == [("褚卫", 1, 100, "合格"),
                                                                        ("卫东", 1, 20, "不合格")]
    assert rows[0]["授予资格"] == "动火监护人上岗授权" and rows[0]["资格编号"].startswith("PX-DH-JH-")
    assert rows[1]["答题明细"] == "1:B✓ 2:正确✗ 3:D✗ 4:A✗ 5:错误✗"
    assert rows[1]["授予资格"] is None
