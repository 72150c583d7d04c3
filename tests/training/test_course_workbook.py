"""The course workbook: the sample loads and reloads in place; every bad row is refused by sheet, row and
column, and nothing of a bad workbook is written."""
from __future__ import annotations

import pytest
from openpyxl import Workbook

from exports.samples.build_sample_training import OUT as SAMPLE
from models import Course, Question
from training import workbook
from training.workbook import COURSE_COLUMNS, COURSES, QUESTION_COLUMNS, QUESTIONS

GOOD_COURSE = ("PX-1", "测试课程", "动火", "监护人", "内容", "", 80, 2, "动火监护人上岗授权", 365)
GOOD_QUESTION = ("PX-1", 1, "单选", "题目", "甲", "乙", "", "", "", "", "A")


def book(tmp_path, courses=(GOOD_COURSE,), questions=(GOOD_QUESTION,)):
    wb = Workbook()
    wb.active.title = COURSES
    wb.active.append(list(COURSE_COLUMNS))
    for row in courses:
        wb.active.append(list(row))
    sheet = wb.create_sheet(QUESTIONS)
    sheet.append(list(QUESTION_COLUMNS))
    for row in questions:
        sheet.append(list(row))
    path = tmp_path / "courses.xlsx"
    wb.save(path)
    return path


def test_the_sample_loads_and_a_reload_updates_in_place(db):
    assert workbook.load(SAMPLE) == (3, 0)
    guardian = Course.get(Course.code == "DH-JH")
    assert (guardian.pass_mark, guardian.max_attempts, guardian.grants, guardian.work_types, guardian.roles) == (
        80, 2, "动火监护人上岗授权", ["hot_work"], ["监护人"])
    assert [q.kind for q in guardian.questions.order_by(Question.seq)] == ["单选", "判断", "多选", "单选", "判断"]
    assert Question.get((Question.course == guardian) & (Question.seq == 3)).answer == [0, 1, 2]
    assert workbook.load(SAMPLE) == (0, 3)
    assert Course.select().count() == 3 and Question.select().count() == 9


@pytest.mark.parametrize("course, question, message", [
    (GOOD_COURSE[:6] + (120,) + GOOD_COURSE[7:], GOOD_QUESTION, "课程 第2行 及格分: 应为 1 到 100 的整数，现为“120”"),
    (GOOD_COURSE[:7] + (0,) + GOOD_COURSE[8:], GOOD_QUESTION, "课程 第2行 允许考试次数: 应为 1 到 10 的整数，现为“0”"),
    (GOOD_COURSE[:8] + ("消防证",) + GOOD_COURSE[9:], GOOD_QUESTION,
     "课程 第2行 授予资格: “消防证”不是证书矩阵中的资格种类"),
    (GOOD_COURSE[:2] + ("核电",) + GOOD_COURSE[3:], GOOD_QUESTION, "课程 第2行 适用作业类型: 未知作业类型“核电”"),
    (GOOD_COURSE[:3] + ("厨师",) + GOOD_COURSE[4:], GOOD_QUESTION, "课程 第2行 适用岗位: 未知岗位“厨师”"),
    (GOOD_COURSE, ("PX-9",) + GOOD_QUESTION[1:], "题库 第2行 课程编号: 课程表中没有课程编号“PX-9”"),
    (GOOD_COURSE, GOOD_QUESTION[:2] + ("问答",) + GOOD_QUESTION[3:], "题库 第2行 题型: “问答”不是可用题型"),
    (GOOD_COURSE, GOOD_QUESTION[:10] + ("C",), "题库 第2行 答案: 答案“C”应为选项字母 A–B"),
    (GOOD_COURSE, GOOD_QUESTION[:10] + ("AB",), "题库 第2行 答案: 单选题只能有一个答案，现为“AB”"),
    (GOOD_COURSE, GOOD_QUESTION[:2] + ("多选",) + GOOD_QUESTION[3:], "题库 第2行 答案: 多选题答案至少两项，现为“A”"),
    (GOOD_COURSE, GOOD_QUESTION[:5] + ("",) + ("丙",) + GOOD_QUESTION[7:],
     "题库 第2行 选项B: 选项不能跳空"),
    (GOOD_COURSE, GOOD_QUESTION[:4] + ("",) * 6 + ("A",), "题库 第2行 选项A: 单选题至少要有两个选项"),
    (GOOD_COURSE, GOOD_QUESTION[:2] + ("判断",) + GOOD_QUESTION[3:4] + ("",) * 6 + ("也许",),
     "题库 第2行 答案: 判断题答案应为“正确”或“错误”，现为“也许”"),
    (GOOD_COURSE, GOOD_QUESTION[:2] + ("判断",) + GOOD_QUESTION[3:10] + ("正确",),
     "题库 第2行 选项A: 判断题不填选项"),
])
def test_a_bad_row_is_refused_by_name_and_nothing_is_loaded(db, tmp_path, course, question, message):
    with pytest.raises(workbook.CourseError) as refused:
        workbook.load(book(tmp_path, [course], [question]))
    assert message in str(refused.value)
    assert "培训课程有" in str(refused.value) and "未导入任何内容" in str(refused.value)
    assert Course.select().count() == 0 and Question.select().count() == 0


def test_a_course_without_questions_and_a_repeated_number_are_refused(db, tmp_path):
    second = ("PX-2",) + GOOD_COURSE[1:]
    with pytest.raises(workbook.CourseError) as refused:
        workbook.load(book(tmp_path, [GOOD_COURSE, second], [GOOD_QUESTION, GOOD_QUESTION]))
    text = str(refused.value)
    assert "题库 第3行 序号: 课程“PX-1”的序号 1 重复" in text
    with pytest.raises(workbook.CourseError) as refused:
        workbook.load(book(tmp_path, [GOOD_COURSE, second], [GOOD_QUESTION]))
    assert "课程 第3行 课程编号: 课程“PX-2”在题库中没有题目" in str(refused.value)
    with pytest.raises(workbook.CourseError) as refused:
        workbook.load(book(tmp_path, [GOOD_COURSE, GOOD_COURSE], [GOOD_QUESTION]))
    assert "课程 第3行 课程编号: 课程编号“PX-1”与第2行重复" in str(refused.value)
