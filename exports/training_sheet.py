"""培训记录: one row per quiz attempt finished in the period: who, when, score, answers, and what it granted."""
from __future__ import annotations

from models import Course, Person, Question, QuizAttempt
from models.training import STATE_NAMES

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

TRAINING = "培训记录"
TIME = 19
TRAINING_COLUMNS = (
    Column("姓名", 9), Column("部门", 14), Column("课程编号", 12), Column("课程", 20), Column("第几次", 6),
    Column("开始时间", TIME), Column("交卷时间", TIME), Column("得分", 6), Column("及格分", 6), Column("结果", 8),
    Column("授予资格", 18), Column("资格编号", 22), Column("有效期至", 12), Column("答题明细", 50),
)
LETTERS = "ABCDEF"


def _answers(attempt: QuizAttempt, questions: dict[tuple[int, int], Question]) -> str:
    """Say each answer as its question's number, the options chosen and whether it was right: 1:B✓ 3:AC✗."""
    said = []
    for a in attempt.answers:
        question = questions.get((attempt.course_id, a["seq"]))
        chosen = ("".join(LETTERS[c] for c in a["chosen"]) if question is None or question.kind != "判断"
                  else "、".join(question.options[c] for c in a["chosen"]))
        said.append(f"{a['seq']}:{chosen}{'✓' if a['right'] else '✗'}")
    return " ".join(said)


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the sheet of the quiz attempts finished in the scope's period."""
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, TRAINING, TRAINING_COLUMNS, title=f"{TRAINING}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), freeze_columns=1,
                  empty_note="本期间没有培训考试记录")
    attempts = list(QuizAttempt.select(QuizAttempt, Person, Course).join(Person).switch(QuizAttempt).join(Course)
                    .where((QuizAttempt.finished_at >= start) & (QuizAttempt.finished_at < end))
                    .order_by(QuizAttempt.finished_at, QuizAttempt.id))
    courses = {a.course_id for a in attempts}
    questions = {(q.course_id, q.seq): q for q in Question.select().where(Question.course.in_(list(courses)))} \
        if courses else {}
    for a in attempts:
        cert = a.certificate
        sheet.append([a.person.name, a.person.department.name, a.course.code,
                      a.course.title, a.number, run.clock(a.started_at), run.clock(a.finished_at), a.score,
                      a.course.pass_mark, STATE_NAMES[a.state], cert.kind if cert else None,
                      cert.number if cert else None, cert.valid_until.isoformat() if cert else None,
                      _answers(a, questions)])
    return {TRAINING: sheet.finish()}
