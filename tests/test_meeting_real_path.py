"""The pre-shift meeting end to end, on WeCom and DingTalk: with MEETING_BEFORE_START the start of a permit
is refused until its work leader holds the day's 班前会 in chat and every one of the crew has scanned the
meeting's code at its place (through the platform's OAuth page) and confirmed on the card; someone not in
the crew is refused at the scan and on the card, and nothing changes."""
from __future__ import annotations

import requests

import settings
from handlers.demo.scripted import meet, prepare_start, take_through
from meetings import links, preshift
from models import AuditEvent, utcnow
from models.meeting import Meeting, MeetingAttendee
from models.permit import Permit
from tests.test_site_real_path import newest_notice
from tests.test_training_real_path import texts
from tests.test_wecom_real_path import BOTH, applied, world  # noqa: F401  (world is a fixture)
from workflow import machine


def _start_card(phone, permit: Permit) -> tuple[str, dict]:
    step = machine.active_step(Permit.get_by_id(permit.id))
    guardian = phone.account(machine.assignees(step)[0])
    return guardian, phone.open_card(guardian, f"{permit.no}-start-r{step.round}-")


@BOTH
def test_a_permit_waits_for_its_crews_meeting_then_starts(world, monkeypatch):
    phone, drain, _ = world
    monkeypatch.setenv("MEETING_BEFORE_START", "1")
    settings.configure()
    permit, _ = applied(phone, drain)
    take_through(phone, permit.no, drain, until="issued")   # approved: the on-site start is next
    prepare_start(phone, Permit.get_by_id(permit.id), drain)
    guardian, card = _start_card(phone, permit)
    assert "须作业负责人召开当天班前会" in str(card)
    phone.click(guardian, card)
    drain()
    assert "开工前须召开当天班前会：请作业负责人 蒋焊 发送“班前会”召开" in newest_notice(phone, guardian)
    assert Permit.get_by_id(permit.id).state == "issued"

    phone.text("jianghan", "班前会")
    drain()
    said = texts(phone, "jianghan")[-1]
    assert said.startswith("班前会已召开") and permit.no in said and "危害与措施：介质 甲烷" in said
    assert "应到 3 人：蒋焊（作业负责人）、沈力（作业人）、褚卫（监护人）" in said
    meeting = Meeting.get()
    for user in ("jianghan", "shenli", "chuwei"):
        assert phone.open_card(user, f"meeting-{meeting.id}-") is not None
    assert phone.open_card("heliang", f"meeting-{meeting.id}-") is None

    # Confirming before the scan is refused and changes nothing.
    phone.click("shenli", phone.open_card("shenli", f"meeting-{meeting.id}-"))
    drain()
    assert "请先到班前会地点" in texts(phone, "shenli")[-1]
    assert not MeetingAttendee.select().where(MeetingAttendee.confirmed_at.is_null(False)).exists()

    # Someone not in the crew scans the code: refused by name, nothing recorded.
    page = phone.meeting("heliang", meeting.id)
    assert page.status_code == 403 and "何亮 不在本次班前会的人员名单中" in page.text
    assert not MeetingAttendee.select().where(MeetingAttendee.checked_in_at.is_null(False)).exists()

    for user in ("jianghan", "chuwei"):
        page = phone.meeting(user, meeting.id)
        assert page.status_code == 200 and "签到成功" in page.text
        phone.click(user, phone.open_card(user, f"meeting-{meeting.id}-"))
        drain()
        assert texts(phone, user)[-1].startswith("已确认参加 蒋焊 班组")
        assert phone.open_card(user, f"meeting-{meeting.id}-") is None   # the card settled in place
    guardian, card = _start_card(phone, permit)
    phone.click(guardian, card)
    drain()
    assert "班前会尚未确认参会：作业人 沈力" in newest_notice(phone, guardian)
    assert Permit.get_by_id(permit.id).state == "issued"

    meet(phone, Permit.get_by_id(permit.id), drain)   # 沈力 scans and confirms; the others are done
    assert take_through(phone, permit.no, drain, until="in_progress").state == "in_progress"
    assert [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("meeting_"))
            .order_by(AuditEvent.seq)].count("meeting_confirm") == 3
    view = requests.get(links.url(meeting, base_url=phone.app), timeout=10)
    assert view.status_code == 200 and "3/3 已确认" in view.text
    assert preshift.problems(Permit.get_by_id(permit.id), at=utcnow()) == []


@BOTH
def test_only_a_leader_holds_a_meeting_and_a_forged_meeting_code_opens_nothing(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    take_through(phone, permit.no, drain, until="issued")
    phone.text("shenli", "班前会")   # a worker, not the leader: refused, no meeting
    drain()
    assert texts(phone, "shenli")[-1].startswith("未办理：您今天没有作为作业负责人（作业人中第一位）的作业票")
    assert not Meeting.select().exists()
    phone.text("jianghan", "班前会")
    drain()
    meeting = Meeting.get()
    real = links.url(meeting, "place", base_url=phone.app)
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    _browser, page = phone.open_code("shenli", forged)
    assert page.status_code == 404
    view = links.url(meeting, base_url=phone.app)   # the card's link reads the meeting, it checks no one in
    _browser, page = phone.open_code("shenli", view)
    assert page.status_code == 200 and "班前会" in page.text
    assert not MeetingAttendee.select().where(MeetingAttendee.checked_in_at.is_null(False)).exists()
