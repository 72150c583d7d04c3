"""The course workbook: a 课程 sheet (one row per course) and a 题库 sheet (one row per question).

Loading is all or nothing, and every bad row is named with its sheet, row and column. A course is keyed
by its 课程编号, so loading the workbook again updates courses in place and replaces their questions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from certs import matrix
from exports.org_workbook import split_roles as split_list
from exports.workbook import RowChecker, RowError, SheetRow, WorkbookError, read_sheets
from models import Course, Question, transaction, utcnow
from models.org import ROLES
from models.training import CONTRACTORS, MULTIPLE, QUESTION_KINDS, SINGLE, TRUE_FALSE, TRUE_FALSE_OPTIONS
from workflow import template

COURSES, QUESTIONS = "课程", "题库"
CODE, TITLE, TYPES, AUDIENCE, BODY, IMAGES = "课程编号", "课程名称", "适用作业类型", "适用岗位", "课程内容", "图片"
PASS_MARK, ATTEMPTS, GRANTS, VALID_DAYS = "及格分", "允许考试次数", "授予资格", "有效期天数"
COURSE_COLUMNS = {CODE: 32, TITLE: 100, TYPES: 200, AUDIENCE: 200, BODY: 4000, IMAGES: 1000, PASS_MARK: 8,
                  ATTEMPTS: 8, GRANTS: 32, VALID_DAYS: 8}
COURSE_OPTIONAL = (TYPES, AUDIENCE, IMAGES, GRANTS, VALID_DAYS)
SEQ, KIND, STEM, ANSWER = "序号", "题型", "题目", "答案"
LETTERS = "ABCDEF"
# A single-choice card has one button per option, and both platforms' cards hold at most six buttons.
OPTION_COLUMNS = tuple(f"选项{letter}" for letter in LETTERS)
QUESTION_COLUMNS = {CODE: 32, SEQ: 8, KIND: 4, STEM: 500, **{c: 60 for c in OPTION_COLUMNS}, ANSWER: 8}
QUESTION_OPTIONAL = OPTION_COLUMNS[2:]
EVERY = "全部"
TRUE_WORDS = {"正确": 0, "对": 0, "√": 0, "是": 0, "错误": 1, "错": 1, "×": 1, "否": 1}
PASS_RANGE, ATTEMPT_RANGE, DAYS_RANGE = range(1, 101), range(1, 11), range(1, 3651)


class CourseError(WorkbookError):
    title = "培训课程"


@dataclass
class Parsed:
    fields: dict
    questions: list[dict] = field(default_factory=list)


def _number(checker: RowChecker, row: SheetRow, column: str, allowed: range, default: int | None = None) -> int | None:
    text = row.cells.get(column, "")
    if not text and default is not None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value not in allowed:
        checker.error(row, column, f"应为 {allowed.start} 到 {allowed.stop - 1} 的整数，现为“{text}”")
        return None
    return value


def _work_types(checker: RowChecker, row: SheetRow) -> list[str]:
    names = split_list(row.cells.get(TYPES, ""))
    if names in ([], [EVERY]):
        return []
    codes = []
    for name in names:
        found = next((code for code, t in template.registry().items()
                      if name in (code, t.name, t.name.removesuffix("作业"))), None)
        if found is None:
            choices = "、".join(t.name for t in template.registry().values())
            checker.error(row, TYPES, f"未知作业类型“{name}”，可选：{choices} 或 {EVERY}")
        else:
            codes.append(found)
    return codes


def _course(checker: RowChecker, row: SheetRow, kinds: tuple[str, ...]) -> dict:
    checker.check_lengths(row, COURSE_COLUMNS)
    for column in (CODE, TITLE, BODY):
        if not row[column]:
            checker.error(row, column, "不能为空")
    roles = [] if row.cells.get(AUDIENCE, "") in ("", EVERY) else split_list(row.cells[AUDIENCE])
    for role in roles:
        if role not in ROLES + (CONTRACTORS,):
            checker.error(row, AUDIENCE, f"未知岗位“{role}”，可选：{'、'.join(ROLES)}、{CONTRACTORS} 或 {EVERY}")
    grants = row.cells.get(GRANTS, "")
    if grants and grants not in kinds:
        checker.error(row, GRANTS, f"“{grants}”不是证书矩阵中的资格种类，可选：{'、'.join(kinds)}")
    return dict(title=row[TITLE], body=row[BODY], images=split_list(row.cells.get(IMAGES, "")),
                work_types=_work_types(checker, row), roles=roles,
                pass_mark=_number(checker, row, PASS_MARK, PASS_RANGE),
                max_attempts=_number(checker, row, ATTEMPTS, ATTEMPT_RANGE), grants=grants,
                valid_days=_number(checker, row, VALID_DAYS, DAYS_RANGE, default=365))


def _question(checker: RowChecker, row: SheetRow) -> dict | None:
    checker.check_lengths(row, QUESTION_COLUMNS)
    before = len(checker.errors)
    seq = _number(checker, row, SEQ, range(1, 1000))
    kind = row[KIND]
    if kind not in QUESTION_KINDS:
        checker.error(row, KIND, f"“{kind}”不是可用题型，可选：{'、'.join(QUESTION_KINDS)}")
    if not row[STEM]:
        checker.error(row, STEM, "不能为空")
    written = [row.cells.get(c, "") for c in OPTION_COLUMNS]
    while written and not written[-1]:
        written.pop()
    answer = row[ANSWER].replace(" ", "").replace("，", "").replace(",", "").replace("、", "").upper()
    chosen: list[int] = []
    options: list[str] = []
    if kind == TRUE_FALSE:
        if any(written):
            checker.error(row, OPTION_COLUMNS[0], "判断题不填选项（选项固定为“正确”“错误”）")
        if answer not in TRUE_WORDS:
            checker.error(row, ANSWER, f"判断题答案应为“正确”或“错误”，现为“{row[ANSWER]}”")
        else:
            chosen, options = [TRUE_WORDS[answer]], list(TRUE_FALSE_OPTIONS)
    elif kind in (SINGLE, MULTIPLE):
        if "" in written:
            gap = OPTION_COLUMNS[written.index("")]
            checker.error(row, gap, "选项不能跳空：前后都有选项时此项不能为空")
        if len(written) < 2:
            checker.error(row, OPTION_COLUMNS[len(written)], f"{kind}题至少要有两个选项")
        options = written
        letters = sorted(set(answer))
        bad = [c for c in letters if c not in LETTERS[:len(written)]]
        if not answer or bad:
            checker.error(row, ANSWER, f"答案“{row[ANSWER]}”应为选项字母 {LETTERS[0]}–{LETTERS[max(len(written), 1) - 1]}")
        elif kind == SINGLE and len(letters) != 1:
            checker.error(row, ANSWER, f"单选题只能有一个答案，现为“{row[ANSWER]}”")
        elif kind == MULTIPLE and len(letters) < 2:
            checker.error(row, ANSWER, f"多选题答案至少两项，现为“{row[ANSWER]}”；只有一项请改为单选题")
        else:
            chosen = [LETTERS.index(c) for c in letters]
    if len(checker.errors) > before:
        return None
    return dict(seq=seq, kind=kind, stem=row[STEM], options=options, answer=chosen)


def check(path: str | Path) -> list[tuple[str, Parsed]]:
    """Read and check the workbook; return (code, course) pairs, or raise CourseError naming every bad row."""
    rows, errors = read_sheets(path, {COURSES: COURSE_COLUMNS, QUESTIONS: QUESTION_COLUMNS},
                               optional=COURSE_OPTIONAL + QUESTION_OPTIONAL)
    if errors:
        raise CourseError(errors)
    checker, courses, first_row = RowChecker(), {}, {}
    kinds = matrix.current().kinds
    for row in rows[COURSES]:
        fields = _course(checker, row, kinds)
        code = row[CODE]
        if code and code in courses:
            checker.error(row, CODE, f"课程编号“{code}”与第{first_row[code]}行重复")
        elif code:
            courses[code], first_row[code] = Parsed(fields), row.row
    for row in rows[QUESTIONS]:
        question = _question(checker, row)
        course = courses.get(row[CODE])
        if course is None:
            checker.error(row, CODE, f"课程表中没有课程编号“{row[CODE]}”" if row[CODE] else "不能为空")
        elif question is not None:
            if any(q["seq"] == question["seq"] for q in course.questions):
                checker.error(row, SEQ, f"课程“{row[CODE]}”的序号 {question['seq']} 重复")
            else:
                course.questions.append(question)
    for code, course in courses.items():
        if not course.questions and not any(e.sheet == QUESTIONS for e in checker.errors):
            checker.errors.append(RowError(COURSES, first_row[code], CODE, f"课程“{code}”在题库中没有题目"))
    if not rows[COURSES] and not checker.errors:
        checker.errors.append(RowError(COURSES, None, None, "没有任何课程"))
    if checker.errors:
        raise CourseError(checker.errors)
    return list(courses.items())


def load(path: str | Path) -> tuple[int, int]:
    """Load the course workbook, all or nothing; return (courses created, courses updated)."""
    courses = check(path)
    created = 0
    with transaction():
        for code, parsed in courses:
            course = Course.get_or_none(Course.code == code)
            if course is None:
                course = Course.create(code=code, **parsed.fields)
                created += 1
            else:
                Course.update(**parsed.fields, updated_at=utcnow()).where(Course.id == course.id).execute()
                Question.delete().where(Question.course == course).execute()
            Question.insert_many([dict(course=course, **q) for q in sorted(parsed.questions, key=lambda q: q["seq"])]
                                 ).execute()
    return created, len(courses) - created


def format_report(counts: tuple[int, int]) -> str:
    created, updated = counts
    return f"培训课程：新增 {created} 门，更新 {updated} 门"
