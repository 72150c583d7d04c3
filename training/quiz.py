"""A quiz in chat: the course text, then one question per card, scored at the end.

Each answer is claimed by a conditional update on the attempt's `asked` counter, so a second click on
the same card, or two clicks racing, record one answer and refuse the other. The answered card is
settled in place to show the answer given, and each attempt's start and result go to the audit chain.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from certs.days import local_day
from models import Authorisation, Certificate, Course, Outbox, Person, PersonRole, Question, QuizAttempt, transaction, utcnow
from models.training import CONTRACTORS, FAILED, MULTIPLE, OPEN, PASSED
from workflow import audit
from workflow.errors import InvalidTransition, NotAuthorized, NotFound, WorkflowError

ISSUER = "厂内培训考试"


def open_courses(person: Person) -> list[Course]:
    """Return the courses open to person: those for everyone and those naming one of their roles."""
    roles = {r for (r,) in PersonRole.select(PersonRole.role).where(PersonRole.person == person).tuples()}
    if Authorisation.select().where((Authorisation.person == person) & Authorisation.revoked_at.is_null()).exists():
        roles.add(CONTRACTORS)
    return [c for c in Course.select().order_by(Course.code) if not c.roles or roles & set(c.roles)]


def find_course(words: str, person: Person) -> Course:
    """Return the course named by its title or code, refusing one that is unknown or not open to person."""
    words = words.strip()
    course = Course.get_or_none((Course.title == words) | (Course.code == words))
    if course is None:
        titles = "、".join(c.title for c in open_courses(person)) or "（暂无）"
        raise NotFound(f"没有名为“{words}”的课程。可参加的课程：{titles}")
    return course


def attempts_of(person: Person, course: Course) -> list[QuizAttempt]:
    return list(QuizAttempt.select().where((QuizAttempt.person == person) & (QuizAttempt.course == course))
                .order_by(QuizAttempt.number))


def questions_of(course: Course) -> list[Question]:
    return list(Question.select().where(Question.course == course).order_by(Question.seq))


def _tell(person: Person, key: str, text: str) -> None:
    (Outbox.insert(person=person, kind="reply", payload={"kind": "reply", "text": text, "permit_no": None},
                   dedupe_key=f"quiz-text:{key}"[:191]).on_conflict_ignore().execute())


def _ask(attempt: QuizAttempt, asked: int) -> None:
    (Outbox.insert(person=attempt.person_id, kind="quiz",
                   payload={"kind": "quiz", "attempt": attempt.id, "asked": asked},
                   dedupe_key=f"quiz:{attempt.id}:{asked}").on_conflict_ignore().execute())


def _settle(attempt: QuizAttempt, asked: int) -> None:
    """Turn the person's card of the asked-th question into the answer they gave, without buttons."""
    (Outbox.insert(person=attempt.person_id, kind="quiz",
                   payload={"kind": "quiz", "attempt": attempt.id, "asked": asked, "settle": True},
                   dedupe_key=f"quiz-settle:{attempt.id}:{asked}").on_conflict_ignore().execute())


def course_text(course: Course) -> str:
    images = "".join(f"\n图片：{image}" for image in course.images)
    return (f"【培训课程】{course.title}\n{course.body}{images}\n\n"
            f"学习后请逐题作答：共 {Question.select().where(Question.course == course).count()} 题，"
            f"{course.pass_mark} 分及格，最多可考 {course.max_attempts} 次")


def start(course: Course, *, by: Person) -> QuizAttempt:
    """Start person's next attempt at course: send its text and first question; refuse past the limit."""
    if course not in open_courses(by):
        raise NotAuthorized(f"课程“{course.title}”面向{'、'.join(course.roles)}，您不在适用岗位")
    with transaction():
        done = attempts_of(by, course)
        current = next((a for a in done if a.state == OPEN), None)
        if current is not None:
            # The card may be lost in a long chat: the question on it now is asked again.
            _ask(current, current.asked)
            return current
        if len(done) >= course.max_attempts:
            raise InvalidTransition(f"课程“{course.title}”已考试 {len(done)} 次，达到允许次数 {course.max_attempts} 次，"
                                    "请联系安全管理部门", command="quiz_start", state="limit")
        attempt = QuizAttempt.create(person=by, course=course, number=len(done) + 1)
        audit.append(permit_no=None, actor=by.label(), action="quiz_start",
                     data={"course": course.code, "title": course.title, "attempt": attempt.number},
                     at=attempt.started_at)
        _tell(by, f"{attempt.id}:course", course_text(course))
        _ask(attempt, 0)
    return attempt


def check_choice(question: Question, chosen: list[int]) -> list[int]:
    """Return chosen in order; refuse an empty or out-of-range choice, or several for a one-answer question."""
    chosen = sorted(set(chosen))
    if not chosen:
        raise WorkflowError("请至少勾选一项后再提交")
    if any(not 0 <= c < len(question.options) for c in chosen):
        raise WorkflowError("所选选项不在本题选项中")
    if question.kind != MULTIPLE and len(chosen) != 1:
        raise WorkflowError(f"{question.kind}题只能选一项")
    return chosen


def answer(attempt_id: int, asked: int, chosen: list[int], *, by: Person, now: datetime | None = None) -> QuizAttempt:
    """Record by's answer to the attempt's asked-th question; ask the next one, or score the attempt."""
    now = now or utcnow()
    attempt = QuizAttempt.get_or_none(QuizAttempt.id == attempt_id)
    if attempt is None or attempt.person_id != by.id:
        raise NotAuthorized("这不是您的考试")
    if attempt.state != OPEN:
        raise InvalidTransition(f"本次考试已结束（{attempt.score} 分），不能再作答", command="quiz_answer",
                                state=attempt.state)
    if asked < attempt.asked:
        raise InvalidTransition(f"第 {asked + 1} 题已作答，不能重复作答", command="quiz_answer", state="answered")
    if asked > attempt.asked:
        raise InvalidTransition(f"第 {asked + 1} 题尚未出题，请回答第 {attempt.asked + 1} 题", command="quiz_answer",
                                state="not_asked")
    questions = questions_of(attempt.course)
    if asked >= len(questions):
        raise InvalidTransition("题库已更新，本题不存在；请发送“培训”重新开始", command="quiz_answer", state="gone")
    question = questions[asked]
    chosen = check_choice(question, chosen)
    entry = {"seq": question.seq, "chosen": chosen, "right": chosen == sorted(question.answer)}
    finished = asked + 1 >= len(questions)
    with transaction():
        answers = list(attempt.answers) + [entry]
        fields = {QuizAttempt.asked: asked + 1, QuizAttempt.answers: answers}
        if finished:
            score = round(100 * sum(a["right"] for a in answers) / len(questions))
            fields |= {QuizAttempt.score: score, QuizAttempt.finished_at: now,
                       QuizAttempt.state: PASSED if score >= attempt.course.pass_mark else FAILED}
        claimed = QuizAttempt.update(fields).where((QuizAttempt.id == attempt.id) & (QuizAttempt.asked == asked)
                                                   & (QuizAttempt.state == OPEN)).execute()
        if not claimed:
            raise InvalidTransition(f"第 {asked + 1} 题已作答，不能重复作答", command="quiz_answer", state="answered")
        attempt = QuizAttempt.get_by_id(attempt.id)
        _settle(attempt, asked)
        if not finished:
            _ask(attempt, asked + 1)
        else:
            _finish(attempt, len(questions), now)
            _audit_result(QuizAttempt.get_by_id(attempt.id), now)
    return attempt


def _audit_result(attempt: QuizAttempt, now: datetime) -> None:
    # The answers go with the score, so that an attempt edited afterwards no longer matches its event.
    certificate = attempt.certificate
    audit.append(permit_no=None, actor=attempt.person.label(), action="quiz_finish",
                 data={"course": attempt.course.code, "title": attempt.course.title, "attempt": attempt.number,
                       "score": attempt.score, "result": attempt.state, "answers": attempt.answers,
                       "certificate": certificate.number if certificate else None}, at=now)


def _finish(attempt: QuizAttempt, total: int, now: datetime) -> None:
    course, person = attempt.course, attempt.person
    right = sum(a["right"] for a in attempt.answers)
    head = f"【考试结果】{course.title}：答对 {right}/{total} 题，得分 {attempt.score}（{course.pass_mark} 分及格）"
    if attempt.state == PASSED:
        granted = ""
        if course.grants:
            until = local_day(now) + timedelta(days=course.valid_days)
            certificate = Certificate.create(
                person=person, kind=course.grants, number=f"PX-{course.code}-{person.id}-{attempt.number}"[:64],
                issuer=ISSUER, issued_on=local_day(now), valid_until=until,
                training=f"{course.title} 第 {attempt.number} 次考试 {attempt.score} 分")
            QuizAttempt.update(certificate=certificate).where(QuizAttempt.id == attempt.id).execute()
            granted = f"\n已取得{course.grants}（{certificate.number}），有效期至 {until:%Y-%m-%d}"
        _tell(person, f"{attempt.id}:result", f"{head}，合格。{granted}")
        return
    left = course.max_attempts - attempt.number
    again = (f"还可补考 {left} 次，发送“培训 {course.title}”重新学习并考试" if left > 0
             else "已无补考机会，请联系安全管理部门")
    _tell(person, f"{attempt.id}:result", f"{head}，不合格。{again}")
