"""The quiz's rules below the chat: an answer only to the question asked, by the person taking it, once."""
from __future__ import annotations

import pytest

from exports.samples.build_sample_training import OUT as SAMPLE
from models import Certificate, Course, Outbox, QuizAttempt, find_person
from training import quiz, workbook
from workflow import WorkflowError


@pytest.fixture
def started(plant):
    workbook.load(SAMPLE)
    course = Course.get(Course.code == "DH-JH")
    return quiz.start(course, by=find_person("chuwei"))


def test_an_answer_to_a_question_not_asked_or_by_someone_else_changes_nothing(started):
    before = Outbox.select().count()
    with pytest.raises(WorkflowError, match="第 3 题尚未出题，请回答第 1 题"):
        quiz.answer(started.id, 2, [0], by=find_person("chuwei"))
    with pytest.raises(WorkflowError, match="这不是您的考试"):
        quiz.answer(started.id, 0, [1], by=find_person("weidong"))
    with pytest.raises(WorkflowError, match="单选题只能选一项"):
        quiz.answer(started.id, 0, [0, 1], by=find_person("chuwei"))
    with pytest.raises(WorkflowError, match="所选选项不在本题选项中"):
        quiz.answer(started.id, 0, [7], by=find_person("chuwei"))
    assert QuizAttempt.get_by_id(started.id).answers == [] and Outbox.select().count() == before


def test_starting_again_while_a_quiz_is_open_asks_the_current_question_again(started):
    chuwei = find_person("chuwei")
    quiz.answer(started.id, 0, [1], by=chuwei)
    again = quiz.start(started.course, by=chuwei)
    assert again.id == started.id and QuizAttempt.select().count() == 1
    assert Outbox.select().where(Outbox.dedupe_key == f"quiz:{started.id}:1").count() == 1


def test_a_finished_quiz_takes_no_more_answers(started):
    chuwei = find_person("chuwei")
    for asked, chosen in enumerate(([1], [1], [0, 1, 2], [1], [0])):
        quiz.answer(started.id, asked, chosen, by=chuwei)
    with pytest.raises(WorkflowError, match=r"本次考试已结束（100 分）"):
        quiz.answer(started.id, 4, [0], by=chuwei)


def test_each_answer_settles_its_card_and_the_attempt_goes_to_the_audit_chain(started):
    from cards.quiz import answered_card
    from models import AuditEvent
    from workflow import audit
    chuwei = find_person("chuwei")
    quiz.answer(started.id, 0, [1], by=chuwei)
    quiz.answer(started.id, 1, [0], by=chuwei)   # a true/false question: said as the option's words
    settles = [r.payload for r in Outbox.select().where(Outbox.dedupe_key.startswith(f"quiz-settle:{started.id}:"))
               .order_by(Outbox.id)]
    assert settles == [{"kind": "quiz", "attempt": started.id, "asked": n, "settle": True} for n in (0, 1)]
    first, second = (answered_card(started.id, n, task_id="t") for n in (0, 1))
    assert (first.kind, first.title, first.buttons) == ("outcome", "已作答：B", ())
    assert ("您的答案", "B") in {(f.name, f.value) for f in first.fields} and "B. 30 分钟" in first.notice
    assert second.title == "已作答：正确"
    assert [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)] == ["quiz_start"]
    for asked, chosen in enumerate(([0, 1, 2], [1], [0]), start=2):
        quiz.answer(started.id, asked, chosen, by=chuwei)
    result = AuditEvent.get(AuditEvent.action == "quiz_finish")
    assert (result.data["score"], result.data["result"], result.data["attempt"]) == (80, "passed", 1)
    assert audit.verify().ok
def test_a_score_of_exactly_the_pass_mark_passes_and_authorises(started):
    chuwei = find_person("chuwei")
    for asked, chosen in enumerate(([1], [1], [0, 1, 2], [1], [1])):   # the last one wrong: 4 of 5 right
        quiz.answer(started.id, asked, chosen, by=chuwei)
    attempt = QuizAttempt.get_by_id(started.id)
    assert (attempt.score, started.course.pass_mark, attempt.state) == (80, 80, "passed")
    assert Certificate.get_or_none((Certificate.person == chuwei) & (Certificate.kind == started.course.grants))
