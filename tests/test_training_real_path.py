"""Training and quizzes in chat, on WeCom and DingTalk: a course's text, one question per card settled in
place once answered, a score, the authorisation a pass writes, the attempt in the audit chain, retakes
limited, and the certificate matrix requiring that authorisation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from certs import matrix
from exports.samples.build_sample_training import OUT as SAMPLE_COURSES
from models import AuditEvent, Certificate, QuizAttempt
from models.permit import Permit
from training import workbook
from workflow import audit
from tests.test_wecom_real_path import apply_text, as_sent, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
GUARDIAN_COURSE = "动火监护人上岗培训"
# The sample guardian course's five questions, answered right: a button, or (multiple choice) the ticks.
RIGHT = ({"button": 1}, {"button": 1}, {"ticks": [0, 1, 2]}, {"button": 1}, {"button": 0})
WRONG = ({"button": 0}, {"button": 0}, {"ticks": [3]}, {"button": 0}, {"button": 1})


def texts(phone, user: str) -> list[str]:
    return [str(m["content"]["content"] if isinstance(m["content"], dict) and "content" in m["content"]
                else m["content"]) for m in phone.messages(user) if m["msgtype"] == "text"]


def question(phone, user: str) -> dict:
    card = phone.open_card(user, "quiz-")
    assert card is not None, f"{user} has no question card"
    return card


def now_showing(phone, user: str, card: dict) -> tuple[bool, str]:
    """Return whether the card user holds with card's task id still has buttons, and what it says."""
    held = next(m for m in reversed(phone.messages(user)) if m.get("task_id") == card["task_id"])
    return held["state"]["interactive"], json.dumps(held["state"], ensure_ascii=False)


def take(phone, drain, user: str, answers) -> None:
    for how in answers:
        phone.click(user, question(phone, user), **how)
        drain()


@BOTH
def test_a_guardian_takes_the_course_passes_the_quiz_and_holds_the_authorisation(world):
    phone, drain, _ = world
    workbook.load(SAMPLE_COURSES)
    phone.text("chuwei", "培训")
    drain()
    assert "动火监护人上岗培训（80 分及格，已考 0/2 次）" in texts(phone, "chuwei")[-1]
    listing = phone.open_card("chuwei", "courses-")
    assert phone.buttons(listing) == [GUARDIAN_COURSE, "入厂安全教育"]
    phone.click("chuwei", listing, button=0)
    drain()
    assert texts(phone, "chuwei")[-1].startswith(f"【培训课程】{GUARDIAN_COURSE}\n监护人是动火作业现场")
    first = question(phone, "chuwei")
    assert phone.buttons(first) == ["A", "B", "C", "D"]
    take(phone, drain, "chuwei", RIGHT[:2])
    interactive, says = now_showing(phone, "chuwei", first)   # settled in place: the answer, no buttons
    assert not interactive and "已作答：B" in says
    checklist = question(phone, "chuwei")
    assert as_sent(checklist)["items"] == 4 and phone.buttons(checklist) == ["提交答案"]
    take(phone, drain, "chuwei", RIGHT[2:])
    interactive, says = now_showing(phone, "chuwei", checklist)
    assert not interactive and "已作答：A、B、C" in says
    result = texts(phone, "chuwei")[-1]
    assert "答对 5/5 题，得分 100（80 分及格），合格" in result and "已取得动火监护人上岗授权" in result
    attempt = QuizAttempt.get()
    assert (attempt.person.wecom_userid, attempt.state, attempt.score, attempt.number) == ("chuwei", "passed", 100, 1)
    assert [a["chosen"] for a in attempt.answers] == [[1], [1], [0, 1, 2], [1], [0]]
    certificate = Certificate.get(Certificate.kind == "动火监护人上岗授权")
    assert certificate.person == attempt.person and attempt.certificate == certificate
    started, finished = (AuditEvent.get(AuditEvent.action == a) for a in ("quiz_start", "quiz_finish"))
    assert started.actor == finished.actor and "褚卫" in finished.actor and started.seq < finished.seq
    assert finished.data | {"answers": None} == {"course": "DH-JH", "title": GUARDIAN_COURSE, "attempt": 1,
                                                 "score": 100, "result": "passed", "answers": None,
                                                 "certificate": certificate.number}
    assert [a["chosen"] for a in finished.data["answers"]] == [[1], [1], [0, 1, 2], [1], [0]]
    assert audit.verify().ok


@BOTH
def test_a_failed_quiz_is_retaken_up_to_the_limit_and_bad_answers_change_nothing(world):
    phone, drain, _ = world
    workbook.load(SAMPLE_COURSES)
    phone.text("weidong", f"培训 {GUARDIAN_COURSE}")
    drain()
    first = question(phone, "weidong")
    phone.click("weidong", first, button=1)
    phone.click("weidong", first, button=0)   # a second answer to the same question, before the card settles
    drain()
    assert texts(phone, "weidong")[-1] == "未办理：第 1 题已作答，不能重复作答"
    assert QuizAttempt.get().answers == [{"seq": 1, "chosen": [1], "right": True}]
    interactive, says = now_showing(phone, "weidong", first)
    assert not interactive and "已作答：B" in says   # the answer taken, not the refused one
    with pytest.raises(requests.HTTPError):    # once settled, the app itself offers no button to click
        phone.click("weidong", first, button=0)
    take(phone, drain, "weidong", WRONG[1:2])
    phone.click("weidong", question(phone, "weidong"), ticks=[])   # 提交答案 with nothing ticked
    drain()
    assert texts(phone, "weidong")[-1] == "未办理：请至少勾选一项后再提交"
    take(phone, drain, "weidong", WRONG[2:])
    assert "得分 20（80 分及格），不合格。还可补考 1 次" in texts(phone, "weidong")[-1]
    phone.text("weidong", f"培训 {GUARDIAN_COURSE}")
    drain()
    take(phone, drain, "weidong", WRONG)
    assert "得分 0（80 分及格），不合格。已无补考机会" in texts(phone, "weidong")[-1]
    phone.text("weidong", f"培训 {GUARDIAN_COURSE}")
    drain()
    assert texts(phone, "weidong")[-1] == ("未办理：课程“动火监护人上岗培训”已考试 2 次，达到允许次数 2 次，"
                                           "请联系安全管理部门")
    assert [(a.number, a.state, a.score) for a in QuizAttempt.select().order_by(QuizAttempt.number)] == [
        (1, "failed", 20), (2, "failed", 0)]
    assert not Certificate.select().where(Certificate.kind == "动火监护人上岗授权").exists()
    # A course not open to one's roles, and one that does not exist.
    phone.text("jianghan", f"培训 {GUARDIAN_COURSE}")
    drain()
    assert texts(phone, "jianghan")[-1] == "未办理：课程“动火监护人上岗培训”面向监护人，您不在适用岗位"
    phone.text("jianghan", "培训 核电站操作")
    drain()
    assert texts(phone, "jianghan")[-1] == "未办理：没有名为“核电站操作”的课程。可参加的课程：入厂安全教育"
    assert QuizAttempt.select().count() == 2


@pytest.fixture
def guardians_need_the_authorisation(tmp_path, monkeypatch):
    """The shipped matrix plus a plant's own line: hot work's guardian needs 动火监护人上岗授权."""
    path = tmp_path / "matrix.toml"
    path.write_text(matrix.MATRIX.read_text(encoding="utf-8") + '\n[[needs]]\ncertificate = "动火监护人上岗授权"\n'
                    'role = "监护人"\nwork_types = ["hot_work"]\n', encoding="utf-8")
    monkeypatch.setattr(matrix, "current", lambda: matrix.load(Path(path)))


@BOTH
def test_the_matrix_refuses_a_guardian_without_the_authorisation_until_the_quiz_is_passed(
        world, guardians_need_the_authorisation):
    phone, drain, _ = world
    workbook.load(SAMPLE_COURSES)
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    assert permit.state == "draft"
    refused = texts(phone, "zhuyan")[-2]
    assert refused == f"草稿 {permit.no} 未能提交：褚卫（监护人）没有登记动火监护人上岗授权。请更换人员后重新提交"
    phone.text("chuwei", f"培训 {GUARDIAN_COURSE}")
    drain()
    take(phone, drain, "chuwei", RIGHT)
    assert "合格" in texts(phone, "chuwei")[-1]
    phone.text("zhuyan", "chuwei")
    drain()
    permit = Permit.get()
    assert permit.state == "in_approval", texts(phone, "zhuyan")[-3:]


@pytest.fixture
def contractor_on_site(plant, tmp_path, monkeypatch):
    """孔焊, a contractor authorised for hot work in 3#罐区 this month, and a matrix asking for entry training."""
    from datetime import date, timedelta
    from exports.org_import import load_org
    from tests.certs.test_contractors import write_org
    today = date.today()
    load_org(write_org(tmp_path / "org.xlsx", authorisations=[
        ("孔焊", "konghan", "华安检修公司", "动火作业", "3#罐区", (today - timedelta(days=1)).isoformat(),
         (today + timedelta(days=30)).isoformat())]))
    path = tmp_path / "matrix.toml"
    path.write_text(matrix.MATRIX.read_text(encoding="utf-8").replace(
        '# entry_training = "承包商入厂安全教育合格"', 'entry_training = "承包商入厂安全教育合格"'), encoding="utf-8")
    monkeypatch.setattr(matrix, "current", lambda: matrix.load(Path(path)))


@BOTH
def test_a_contractor_passes_the_entry_training_in_chat_before_the_authorisation_counts(contractor_on_site, world):
    phone, drain, _ = world
    workbook.load(SAMPLE_COURSES)
    phone.text("zhuyan", apply_text().replace("作业人: jianghan,shenli", "作业人: konghan,shenli"))
    drain()
    permit = Permit.get()
    assert texts(phone, "zhuyan")[-2] == (f"草稿 {permit.no} 未能提交：孔焊（作业人，承包商）尚未通过入厂安全教育"
                                          "（没有承包商入厂安全教育合格），临时授权暂不生效。请更换人员后重新提交")
    phone.text("konghan", "培训")
    drain()
    assert phone.buttons(phone.open_card("konghan", "courses-")) == ["承包商入厂安全教育", "入厂安全教育"]
    phone.text("konghan", "培训 承包商入厂安全教育")
    drain()
    take(phone, drain, "konghan", ({"button": 1}, {"button": 1}))
    assert "已取得承包商入厂安全教育合格" in texts(phone, "konghan")[-1]
    phone.text("zhuyan", "konghan,shenli")
    drain()
    assert Permit.get().state == "in_approval", texts(phone, "zhuyan")[-3:]
