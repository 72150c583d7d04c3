"""Cards of training and quizzes: the courses open to a person, and one card per question."""
from __future__ import annotations

from models import Course, Question, QuizAttempt
from models.training import MULTIPLE, TRUE_FALSE

from . import actions
from .card import PRIMARY, SECONDARY, Button, Card, Field

LETTERS = "ABCDEF"
MAX_COURSE_BUTTONS = 6   # both platforms' cards hold at most six buttons


def courses_card(courses: list[Course], *, person_id: int, serial: int) -> Card:
    """Return the card listing courses, one 开始 button per course (the first six)."""
    return Card(kind="sign", task_id=f"courses-p{person_id}-n{serial}", title="培训考试：可参加的课程",
                subtitle=f"共 {len(courses)} 门",
                fields=tuple(Field(c.code, c.title) for c in courses[:MAX_COURSE_BUTTONS]),
                buttons=tuple(Button(c.title[:10], actions.quiz_key("start", c.id), PRIMARY if i == 0 else SECONDARY)
                              for i, c in enumerate(courses[:MAX_COURSE_BUTTONS])),
                notice="点击课程开始学习，学完逐题作答；也可发送“培训 课程名称”")


def question_card(attempt_id: int, asked: int, *, person_id: int, serial: int) -> Card:
    """Return the card of the attempt's asked-th question: a button per option, or ticks for multiple choice."""
    attempt = QuizAttempt.get_by_id(attempt_id)
    questions = list(Question.select().where(Question.course == attempt.course_id).order_by(Question.seq))
    question = questions[asked]
    head = f"第 {asked + 1}/{len(questions)} 题（{question.kind}）"
    task = f"quiz-{attempt_id}-q{asked}-p{person_id}-n{serial}"
    fields = (Field("课程", attempt.course.title), Field("题号", head))
    if question.kind == MULTIPLE:
        return Card(kind="checklist", task_id=task, title=f"培训考试：{head}", subtitle=attempt.course.title,
                    fields=fields, checklist=tuple(f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options)),
                    checklist_key=f"quiz-choices-{attempt_id}-{asked}",
                    buttons=(Button("提交答案", actions.quiz_key("submit", attempt_id, asked)),),
                    notice=f"{question.stem}（多选：勾选全部正确选项后提交）")
    if question.kind == TRUE_FALSE:
        labels, stem = list(question.options), question.stem
    else:
        labels = list(LETTERS[:len(question.options)])
        stem = question.stem + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options))
    return Card(kind="sign", task_id=task, title=f"培训考试：{head}", subtitle=attempt.course.title, fields=fields,
                buttons=tuple(Button(label, actions.quiz_key("answer", attempt_id, asked, i), SECONDARY)
                              for i, label in enumerate(labels)),
                notice=stem)


def answered_card(attempt_id: int, asked: int, *, task_id: str) -> Card:
    """Return what a question's card becomes once answered: the answer given, and no buttons."""
    attempt = QuizAttempt.get_by_id(attempt_id)
    questions = list(Question.select().where(Question.course == attempt.course_id).order_by(Question.seq))
    question = questions[asked]
    given = next((a["chosen"] for a in attempt.answers if a["seq"] == question.seq), [])
    said = ("、".join(question.options[c] for c in given) if question.kind == TRUE_FALSE
            else "、".join(LETTERS[c] for c in given))
    head = f"第 {asked + 1}/{len(questions)} 题（{question.kind}）"
    options = "" if question.kind == TRUE_FALSE else "\n" + "\n".join(
        f"{LETTERS[i]}. {o}" for i, o in enumerate(question.options))
    # Short, as the title is all WeCom shows of it: the label on the card's greyed-out buttons.
    return Card(kind="outcome", task_id=task_id, title=f"已作答：{said or '（无）'}", subtitle=attempt.course.title,
                fields=(Field("课程", attempt.course.title), Field("题号", head), Field("您的答案", said or "（无）")),
                buttons=(), notice=question.stem + options)
