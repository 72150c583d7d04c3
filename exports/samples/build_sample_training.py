"""Build the sample plant's course workbook: python -m exports.samples.build_sample_training [OUT]."""
from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

from models.training import QUESTION_KINDS
from training.workbook import (ANSWER, CODE, COURSE_COLUMNS, COURSES, QUESTION_COLUMNS, QUESTIONS, KIND,
                               ATTEMPT_RANGE, DAYS_RANGE, PASS_RANGE)

from .layout import fill, pick_list

OUT = Path(__file__).with_name("示例培训课程.xlsx")
GUARDIAN = "DH-JH"
ENTRY = "CBS-RC"
COURSE_ROWS = (
    (GUARDIAN, "动火监护人上岗培训", "动火", "监护人",
     "监护人是动火作业现场的“安全哨兵”，全程在场，不得兼做其他工作。\n"
     "开工前：核对作业票、检查安全措施落实、确认气体分析合格（取样在动火前 30 分钟内）。\n"
     "作业中：监护人离开现场即应停止作业；发现异常立即停止作业、组织撤离。\n"
     "完工后：清理现场，确认无遗留火种后方可离开。",
     "动火监护人站位示意.png", 80, 2, "动火监护人上岗授权", 365),
    ("RC-01", "入厂安全教育", "全部", "全部",
     "进入厂区须正确佩戴安全帽、穿防静电工作服；严禁携带烟火。\n"
     "听到报警立即停止作业，按疏散路线撤离到集合点并报到。",
     "", 60, 3, "", 365),
    (ENTRY, "承包商入厂安全教育", "全部", "承包商",
     "承包商人员入厂作业前须通过本厂入厂安全教育，合格后临时授权方才生效。\n"
     "作业前须办理作业票，按票作业；不得擅自扩大作业范围或变更作业地点。\n"
     "遇气体报警或应急广播，立即停止作业，按疏散路线撤离并向监护人报到。",
     "", 80, 3, "承包商入厂安全教育合格", 365),
)
QUESTION_ROWS = (
    (GUARDIAN, 1, "单选", "动火分析的取样时间应在动火前多久以内？", "10 分钟", "30 分钟", "60 分钟", "2 小时", "B"),
    (GUARDIAN, 2, "判断", "监护人可以在作业过程中临时离开去处理其他工作。", "", "", "", "", "错误"),
    (GUARDIAN, 3, "多选", "发现下列哪些情况时，监护人应立即停止作业？", "气体报警", "作业人未按票作业",
     "安全措施失效", "天气晴好", "ABC"),
    (GUARDIAN, 4, "单选", "动火作业完工后，监护人应当：", "立即离开", "确认无遗留火种后离开", "交给作业人处理", "",
     "B"),
    (GUARDIAN, 5, "判断", "作业票上的安全措施未落实，监护人有权制止作业。", "", "", "", "", "正确"),
    ("RC-01", 1, "判断", "厂区内可以吸烟。", "", "", "", "", "错误"),
    ("RC-01", 2, "单选", "听到报警后应当：", "继续作业", "按疏散路线撤离并报到", "等待通知", "", "B"),
    (ENTRY, 1, "判断", "承包商人员可以按口头安排扩大作业范围。", "", "", "", "", "错误"),
    (ENTRY, 2, "单选", "遇气体报警时，承包商人员应当：", "完成手头工作再撤离", "立即停止作业并撤离报到",
     "自行检测后决定", "", "B"),
)


def build(out: Path = OUT) -> Path:
    """Write the sample plant's course workbook to out and return its path."""
    book = Workbook()
    courses = book.active
    courses.title = COURSES
    fill(courses, tuple(COURSE_COLUMNS), COURSE_ROWS)
    questions = book.create_sheet(QUESTIONS)
    headers = tuple(QUESTION_COLUMNS)
    rows = [row[:8] + ("", "") + row[8:] for row in QUESTION_ROWS]   # 选项E, 选项F left empty
    fill(questions, headers, rows)
    pick_list(questions, column=headers.index(KIND) + 1, choices=QUESTION_KINDS)
    notes = book.create_sheet("说明")
    fill(notes, ("项目", "说明"), [
        (CODE, "课程的唯一编号；再次导入同一编号会更新课程并替换其题目"),
        ("适用作业类型 / 适用岗位", "多个用 、 分隔；“全部”或留空表示不限"),
        ("及格分", f"{PASS_RANGE.start}–{PASS_RANGE.stop - 1}，按答对题数的百分比计分"),
        ("允许考试次数", f"{ATTEMPT_RANGE.start}–{ATTEMPT_RANGE.stop - 1}，含首次考试"),
        ("授予资格", "考试合格后写入的上岗授权（须为证书矩阵 certs/matrix.toml 中的种类）；留空则不授予"),
        ("有效期天数", f"{DAYS_RANGE.start}–{DAYS_RANGE.stop - 1}，留空为 365"),
        (KIND, "、".join(QUESTION_KINDS) + "；单选、多选填选项A起连续的选项，判断题不填选项"),
        (ANSWER, "单选填一个字母（如 B），多选填全部正确字母（如 ABC），判断填“正确”或“错误”"),
    ])
    book.save(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
