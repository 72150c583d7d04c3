"""Training in chat: `培训` lists the courses open to a person, `培训 课程名` or a click starts one, and the
question cards' clicks answer."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from cards.quiz import MAX_COURSE_BUTTONS
from models import Course, Outbox, Person, Question, QuizAttempt
from training import quiz
from workflow import WorkflowError

from .replies import Replier

HELP = "培训 —— 可参加的培训课程；培训 课程名称 —— 学习课程并逐题考试，合格后取得相应上岗授权\n"


def _list(person: Person, reply, event: Event) -> None:
    courses = quiz.open_courses(person)
    if not courses:
        reply("暂无您可参加的培训课程")
        return
    lines = [f"{c.title}（{c.pass_mark} 分及格，已考 {len(quiz.attempts_of(person, c))}/{c.max_attempts} 次）"
             for c in courses]
    more = ("\n其余课程请发送“培训 课程名称”" if len(courses) > MAX_COURSE_BUTTONS else "")
    reply("可参加的培训课程：\n" + "\n".join(lines) + more)
    (Outbox.insert(person=person, kind="courses", payload={"kind": "courses", "courses": [c.id for c in courses]},
                   dedupe_key=f"courses:{event.dedupe_key}"[:191]).on_conflict_ignore().execute())


def _command(head, _lines, person: Person, reply, event: Event) -> None:
    parts = head.split(maxsplit=1)
    if len(parts) < 2:
        _list(person, reply, event)
        return
    quiz.start(quiz.find_course(parts[1], person), by=person)


COMMANDS = {"培训": _command}


def _chosen(found: actions.QuizAction, event: Event) -> list[int]:
    """Return the options a click chose: its button's, or a checklist card's ticks."""
    if found.action == "answer":
        return [found.option]
    attempt = QuizAttempt.get_or_none(QuizAttempt.id == found.number)
    question = (Question.select().where(Question.course == attempt.course_id).order_by(Question.seq)
                .offset(found.asked).first() if attempt else None)
    try:
        return actions.option_indexes(len(question.options) if question else 0, event.selected)
    except ValueError:
        raise WorkflowError("所选选项不在本题选项中") from None


def _apply(found: actions.QuizAction, event: Event, person: Person) -> str:
    if found.action == "start":
        course = Course.get_or_none(Course.id == found.number)
        if course is None:
            raise WorkflowError("该课程已不存在，请发送“培训”查看可参加的课程")
        quiz.start(course, by=person)
        return "quiz started"
    quiz.answer(found.number, found.asked, _chosen(found, event), by=person)
    return "quiz answered"


def handle_click(event: Event, person: Person) -> str | None:
    """Apply a quiz card's button; None when the key is not one."""
    from workflow.machine import record_refusal
    try:
        found = actions.parse_quiz(event.key)
        if found is None:
            return None
        done = _apply(found, event, person)
    except (ValueError, WorkflowError) as exc:
        reason = exc.message if isinstance(exc, WorkflowError) else "无法识别的考试按钮"
        record_refusal(None, by=person, command="quiz", reason=reason, channel=event.platform)
        Replier(event, person)(f"未办理：{reason}")
        return f"refused: {reason}"
    return done
