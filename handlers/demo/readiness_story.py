"""The scripted readiness story: people and tools proven ready before the work.

褚卫 passes the hot-work guardian's quiz in chat and holds the authorisation; the gas tester's test counts
only with a detector in test, and the expired one is refused at its label; with MEETING_BEFORE_START the
permit's start waits until the work leader has held the day's pre-shift meeting (班前会) and the crew has
scanned its code and confirmed. Everything goes through the real doors; a step that does not happen raises
StoryFailed, so the demo exits non-zero.
"""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Callable

from openpyxl import Workbook

from models import Certificate, Person, QuizAttempt, utcnow
from models.meeting import Meeting
from models.permit import Permit
from models.tool import Tool

from .demo import Demo, wait_delivered
from .gas_story import expect
from .plant_story import Plant
from .scripted import GOOD_AIR, meet, prepare_start, take_through

COURSE, AUTHORISATION = "动火监护人上岗培训", "动火监护人上岗授权"
# The sample guardian course's five questions, answered right: a button, or (multiple choice) the ticks.
RIGHT = ({"button": 1}, {"button": 1}, {"ticks": [0, 1, 2]}, {"button": 1}, {"button": 0})
DETECTOR = "便携式气体检测仪"


def _quiz(p: Plant, say: Callable[[str], None]) -> None:
    """褚卫 studies the guardian's course and answers its questions one card at a time."""
    p.text("chuwei", f"培训 {COURSE}")
    user = p.user("chuwei")
    for how in RIGHT:
        card = p.phone.open_card(user, "quiz-")
        expect(card is not None, "褚卫 没有收到考题卡片")
        p.phone.click(user, card, **how)
        wait_delivered()
    result = p.last_text("chuwei")
    person = Person.get(Person.wecom_userid == "chuwei")
    attempt = QuizAttempt.select().where(QuizAttempt.person == person).order_by(QuizAttempt.id.desc()).first()
    expect(attempt is not None and attempt.state == "passed", f"褚卫 的考试没有通过：{result}")
    expect(Certificate.select().where((Certificate.person == person) & (Certificate.kind == AUTHORISATION)).exists(),
           f"考试通过后没有取得{AUTHORISATION}")
    say(f"  {'培训考试':<12} 褚卫 发送“培训 {COURSE}”，逐题作答 {len(RIGHT)} 题 → 得分 {attempt.score}，"
        f"合格，取得{AUTHORISATION}")


def _register() -> None:
    """Load a tool register with a detector in test and one whose test lapsed yesterday (dates from today)."""
    from exports.tool_import import COLUMNS, TOOLS, add_months, load_tools
    from tools.loans import today as plant_today
    today = plant_today(utcnow())
    lapsed = add_months(today, -12) - timedelta(days=1)
    book = Workbook()
    sheet = book.active
    sheet.title = TOOLS
    sheet.append(COLUMNS)
    sheet.append(("GJ-0001", DETECTOR, 12, f"{today - timedelta(days=30)}", "sunli", 8))
    sheet.append(("GJ-0003", DETECTOR, 12, f"{lapsed}", "sunli", 8))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "工器具.xlsx"
        book.save(path)
        load_tools(path)


def _gas_needs_a_detector(p: Plant, permit: Permit, say: Callable[[str], None]) -> None:
    """陈检's reading is refused without a detector; the expired one is refused at its label; one in test counts."""
    user = p.user("chenjian")
    p.text("chenjian", f"气体检测 {permit.no} {GOOD_AIR}")
    expect("须先扫码领用便携式气体检测仪" in str(p.phone.messages(user)[-1]["content"]),
           "没有检测仪的气体检测没有被拒绝")
    say(f"  {'气体分析':<12} 陈检 未领检测仪就发送检测数据 → 拒绝：须先扫码领用{DETECTOR}")
    lapsed = Tool.get(Tool.no == "GJ-0003")
    page = p.phone.tool(user, "GJ-0003", "out")
    expect(page.status_code == 409 and "已过期，不得领用" in page.text, f"过期检测仪 GJ-0003 → HTTP {page.status_code}")
    expect(Tool.get(Tool.no == "GJ-0003").holder is None, "过期检测仪被领用了")
    say(f"  {'领用工器具':<12} 陈检 扫码领用 GJ-0003 → HTTP 409：检验有效期至 {lapsed.due_on:%Y-%m-%d}，已过期，不得领用")
    page = p.phone.tool(user, "GJ-0001", "out")
    expect(page.status_code == 200 and "领用成功" in page.text, f"检测仪 GJ-0001 → HTTP {page.status_code}")
    say(f"  {'领用工器具':<12} 陈检 扫码领用 GJ-0001 → 领用成功")


def _start_waits_for_the_meeting(p: Plant, permit: Permit, say: Callable[[str], None]) -> None:
    """The guardian's start is refused until the crew's 班前会; someone not in the crew cannot check in to it."""
    from workflow import machine
    permit = Permit.get_by_id(permit.id)
    prepare_start(p.phone, permit, wait_delivered)
    step = machine.active_step(permit)
    guardian = machine.assignees(step)[0]
    user = p.phone.account(guardian)
    card = p.phone.open_card(user, f"{permit.no}-start-r{step.round}-")
    expect(card is not None, f"{guardian.name} 没有现场开工卡片")
    p.phone.click(user, card)
    wait_delivered()
    refusal = str(p.phone.messages(user)[-1]["content"])
    expect("开工前须召开当天班前会" in refusal and Permit.get_by_id(permit.id).state == "issued",
           f"没有班前会也开工了：{refusal}")
    say(f"  {'现场开工':<12} {guardian.name} 点击“确认” → 拒绝：开工前须召开当天班前会（MEETING_BEFORE_START）")
    meeting = meet(p.phone, permit, wait_delivered, say)
    page = p.phone.meeting(p.user("heliang"), meeting.id)
    expect(page.status_code == 403 and "不在本次班前会的人员名单中" in page.text, f"班组以外的人扫码 → HTTP {page.status_code}")
    say(f"  {'班前会':<12} 何亮（不在班组）扫描班前会二维码 → HTTP 403：不在人员名单中，未登记")
    expect(Meeting.get_by_id(meeting.id).attendees.count() == 3, "班前会人员名单不对")


def readiness(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """A quiz passed, an expired detector refused at its label, and a start held for the crew's 班前会."""
    p = Plant(demo, platform)
    say("开工前的准备：培训考试、安全工器具、班前会")
    _quiz(p, say)
    _register()
    permit = p.apply("3#罐区 东侧管廊", guardian="chuwei")
    expect(permit.state == "in_approval", f"{permit.no} 未提交")
    say(f"  {'申请':<12} 朱岩 申请 {permit.no}（动火二级，作业负责人 蒋焊，监护人 褚卫）")
    started = take_through(p.phone, permit.no, wait_delivered, say=say, until="in_progress", pause_at={
        "gas": lambda step: _gas_needs_a_detector(p, permit, say),
        "start": lambda step: _start_waits_for_the_meeting(p, permit, say)})
    expect(started.state == "in_progress", f"{permit.no} 没有开工")
    say(f"  {'现场开工':<12} 班组全员确认参会后，{permit.no} → 作业中")
