"""The pre-shift meeting on the engine without the chat: who is on its list, the scan before the confirmation,
refusals that change nothing, the audit chain, and the gate that holds a start until the crew confirmed."""
from __future__ import annotations

from datetime import timedelta

import pytest

import settings
from meetings import preshift
from models import AuditEvent, find_person
from models.meeting import Meeting, MeetingAttendee
from tests.workflow.test_rules import at_start, clock_for, gas_test, hot, reload, start_work
from workflow import GateNotMet
from workflow.audit import verify
from workflow.errors import InvalidTransition, NotAuthorized


@pytest.fixture
def required(monkeypatch):
    monkeypatch.setenv("MEETING_BEFORE_START", "1")
    settings.configure()


def _at_start(**kwargs):
    permit = hot("二级", **kwargs)
    clock = clock_for(permit)
    at_start(permit, clock)
    gas_test(permit, clock.now)   # fresh air for the start: the meeting is what these tests vary
    return reload(permit), clock.now


def test_the_leader_holds_the_meeting_of_their_permits_and_the_crew_is_its_list(plant):
    permit, now = _at_start()
    with pytest.raises(NotAuthorized, match="您今天没有作为作业负责人"):
        preshift.hold(by=find_person("shenli"), now=now)   # a worker, not the leader
    held = preshift.hold(by=find_person("jianghan"), now=now)
    assert held.added == [permit.no] and preshift.permits_of(held.meeting) == [permit]
    assert [(a.person.name, a.roles) for a in preshift.attendees(held.meeting)] == [
        ("蒋焊", "作业负责人"), ("沈力", "作业人"), ("褚卫", "监护人")]
    again = preshift.hold(by=find_person("jianghan"), now=now + timedelta(minutes=5))
    assert again.meeting.id == held.meeting.id and again.added == [] and Meeting.select().count() == 1
    lines = preshift.agenda(held.meeting, knowledge_for=lambda code: [])
    assert lines[0].startswith(f"{permit.no} 动火作业") and "危害与措施：介质 " in lines[1]


def test_a_confirmation_comes_after_the_scan_once_and_only_from_the_crew(plant):
    _permit, now = _at_start()
    meeting = preshift.hold(by=find_person("jianghan"), now=now).meeting
    before = list(MeetingAttendee.select().order_by(MeetingAttendee.id).tuples())
    with pytest.raises(NotAuthorized, match="何亮 不在 蒋焊 班组 .* 班前会的人员名单中"):
        preshift.confirm(meeting.id, by=find_person("heliang"), now=now)
    with pytest.raises(NotAuthorized, match="不在 蒋焊 班组"):
        preshift.check_in(meeting.id, by=find_person("heliang"), platform="wecom", now=now)
    with pytest.raises(InvalidTransition, match="请先到班前会地点.*扫描班前会二维码签到，再点击确认参会"):
        preshift.confirm(meeting.id, by=find_person("shenli"), now=now)
    assert list(MeetingAttendee.select().order_by(MeetingAttendee.id).tuples()) == before
    preshift.check_in(meeting.id, by=find_person("shenli"), platform="wecom", now=now)
    row = preshift.confirm(meeting.id, by=find_person("shenli"), now=now + timedelta(minutes=1))
    assert row.confirmed_at == now + timedelta(minutes=1)
    with pytest.raises(InvalidTransition, match="您已于 .* 确认参加本次班前会，无需重复确认"):
        preshift.confirm(meeting.id, by=find_person("shenli"), now=now + timedelta(minutes=2))
    with pytest.raises(InvalidTransition, match="的班前会二维码，已过期"):
        preshift.check_in(meeting.id, by=find_person("chuwei"), platform="wecom", now=now + timedelta(days=1))
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("meeting_"))
               .order_by(AuditEvent.seq)]
    assert actions == ["meeting_held", "meeting_check_in", "meeting_confirm"]
    assert verify().ok


def test_without_the_setting_a_start_does_not_wait_for_a_meeting(plant):
    permit, now = _at_start()
    assert preshift.problems(permit, at=now) == []
    start_work(permit, now)
    assert reload(permit).state == "in_progress"


def test_with_the_setting_the_start_waits_for_the_meeting_and_every_confirmation(plant, required):
    permit, now = _at_start()
    with pytest.raises(GateNotMet, match="开工前须召开当天班前会：请作业负责人 蒋焊 发送“班前会”召开"):
        start_work(permit, now)
    assert reload(permit).state == "issued"
    meeting = preshift.hold(by=find_person("jianghan"), now=now).meeting
    for account in ("jianghan", "chuwei"):
        preshift.check_in(meeting.id, by=find_person(account), platform="dingtalk", now=now)
        preshift.confirm(meeting.id, by=find_person(account), now=now)
    with pytest.raises(GateNotMet, match="班前会尚未确认参会：作业人 沈力"):
        start_work(permit, now)
    preshift.check_in(meeting.id, by=find_person("shenli"), platform="dingtalk", now=now)
    preshift.confirm(meeting.id, by=find_person("shenli"), now=now)
    start_work(permit, now)
    assert reload(permit).state == "in_progress"


def test_yesterdays_meeting_does_not_open_todays_start(plant, required):
    permit, now = _at_start()
    meeting = preshift.hold(by=find_person("jianghan"), now=now).meeting
    for account in ("jianghan", "shenli", "chuwei"):
        preshift.check_in(meeting.id, by=find_person(account), platform="wecom", now=now)
        preshift.confirm(meeting.id, by=find_person(account), now=now)
    assert preshift.problems(permit, at=now) == []
    assert preshift.problems(permit, at=now + timedelta(days=1))[0].startswith("开工前须召开当天班前会")


def test_the_ledger_lists_each_meeting_with_its_permits_and_who_confirmed(plant, tmp_path):
    from openpyxl import load_workbook
    from exports.build import build_ledger
    from exports.meeting_sheet import MEETING_COLUMNS, MEETINGS
    from exports.period import month as read_month
    from exports.run import Run
    from exports.scope import Scope
    permit, now = _at_start()
    meeting = preshift.hold(by=find_person("jianghan"), now=now).meeting
    for account in ("jianghan", "chuwei"):
        preshift.check_in(meeting.id, by=find_person(account), platform="wecom", now=now)
    preshift.confirm(meeting.id, by=find_person("chuwei"), now=now)
    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    sheet = load_workbook(built.path)[MEETINGS]
    assert [c.value for c in sheet[3]] == [c.header for c in MEETING_COLUMNS]
    rows = [dict(zip([c.header for c in MEETING_COLUMNS], r)) for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert built.rows[MEETINGS] == 1
    row = rows[0]
    assert (row["作业负责人"], row["作业票"], row["应到人数"], row["签到人数"], row["确认人数"]) == (
        "蒋焊", permit.no, 3, 2, 1)
    assert row["参会人员（确认时间）"].startswith("褚卫（监护人 ") and row["未确认"] == "蒋焊（作业负责人）、沈力（作业人）"
