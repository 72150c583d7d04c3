"""After an alarm is raised: acknowledgement, re-sending up the chain, and detectors that fall silent."""
from __future__ import annotations

from datetime import timedelta

import pytest

import settings
from models import Alarm, AlarmAck, AuditEvent, Outbox
from sensors import alarms
from tests.sensors.conftest import accounts, reload, who
from workflow import GateNotMet, NotAuthorized, audit, resume


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def cards(alarm: Alarm, round: int) -> list[Outbox]:
    return [row for row in Outbox.select().where(Outbox.kind == "alarm")
            if row.payload["alarm"] == alarm.id and row.payload["round"] == round]


@pytest.fixture
def raised(site) -> Alarm:
    """A first alarm (EX 30 %LEL) of a detector watching an approved confined-space permit."""
    permit = site.issued("confined_space")
    site.bind(permit, site.detector("GD-0001"))
    site.report("GD-0001", site.clock.tick(), EX=30.0)
    return Alarm.get()


# --- acknowledgement ---

def test_the_first_acknowledgement_stops_the_resends_and_records_the_response_time(raised):
    assert raised.resend_at == raised.raised_at + seconds(settings.current().alarm_resend_seconds)
    answer = alarms.acknowledge(raised.id, by=who("chuwei"), channel="wecom", now=raised.reading_at + seconds(45))
    assert "45 秒" in answer
    alarm = reload(raised)
    assert alarm.acknowledged_at == raised.reading_at + seconds(45)
    assert alarm.acknowledged_by.account == "chuwei"
    assert alarm.resend_at is None
    event = AuditEvent.get(AuditEvent.action == "alarm_ack")
    assert event.data["response_seconds"] == 45 and event.data["first"] is True
    assert event.data["channel"] == "wecom"
    assert alarms.resend_due(raised.reading_at + seconds(3600)) == 0
    assert audit.verify().ok


def test_someone_not_on_the_alarm_cannot_acknowledge_it(raised):
    before = (AlarmAck.select().count(), AuditEvent.select().count(), Outbox.select().count())
    with pytest.raises(NotAuthorized, match="不是此报警的接收人"):
        alarms.acknowledge(raised.id, by=who("qinchuan"), channel="wecom", now=raised.reading_at + seconds(30))
    alarm = reload(raised)
    assert (alarm.acknowledged_at, alarm.resend_at) == (None, raised.resend_at)
    assert (AlarmAck.select().count(), AuditEvent.select().count(), Outbox.select().count()) == before


def test_a_second_acknowledgement_by_the_same_person_changes_nothing(raised):
    first = raised.reading_at + seconds(20)
    alarms.acknowledge(raised.id, by=who("chuwei"), channel="wecom", now=first)
    before = (AlarmAck.select().count(), AuditEvent.select().count(), Outbox.select().count())
    answer = alarms.acknowledge(raised.id, by=who("chuwei"), channel="wecom", now=first + seconds(60))
    assert answer.startswith("您已于")
    assert (AlarmAck.select().count(), AuditEvent.select().count(), Outbox.select().count()) == before
    assert reload(raised).acknowledged_at == first


def test_a_later_acknowledgement_by_someone_else_keeps_the_first_one(raised):
    first = raised.reading_at + seconds(20)
    alarms.acknowledge(raised.id, by=who("chuwei"), channel="wecom", now=first)
    alarms.acknowledge(raised.id, by=who("wuhai"), channel="cli", now=first + seconds(40))
    alarm = reload(raised)
    assert (alarm.acknowledged_at, alarm.acknowledged_by.account) == (first, "chuwei")
    assert accounts(ack.person for ack in AlarmAck.select()) == {"chuwei", "wuhai"}


# --- re-sending an unacknowledged alarm up the chain ---

def test_an_unacknowledged_alarm_is_resent_with_the_next_role_of_the_chain(raised):
    delay = seconds(settings.current().alarm_resend_seconds)
    first_round = accounts(row.person for row in cards(raised, 1))
    assert alarms.resend_due(raised.raised_at + delay - seconds(1)) == 0
    assert alarms.resend_due(raised.raised_at + delay) == 1
    alarm = reload(raised)
    assert alarms.CHAIN[0] == "基层单位负责人"
    # wuhai, the unit head, approved and already has it; the other unit head is added.
    assert alarm.rounds == 2
    assert accounts(row.person for row in cards(alarm, 2)) == first_round | {"shiwen"}
    assert alarm.resend_at == raised.raised_at + 2 * delay
    # Nobody acknowledges the second round either: the safety department's head is added.
    assert alarms.resend_due(raised.raised_at + 2 * delay) == 1
    assert alarms.CHAIN[1] == "安全管理部门负责人"
    assert accounts(row.person for row in cards(reload(raised), 3)) == first_round | {"shiwen", "qiananping"}
    assert len(cards(raised, 1)) == len(first_round)          # earlier rounds are not sent again


def test_an_acknowledged_alarm_is_not_resent(raised):
    alarms.acknowledge(raised.id, by=who("zhuyan"), channel="wecom", now=raised.reading_at + seconds(10))
    before = Outbox.select().count()
    assert alarms.resend_due(raised.raised_at + seconds(3600)) == 0
    assert reload(raised).rounds == 1
    assert Outbox.select().count() == before


# --- detectors that fall silent ---

def allowed(sensor) -> timedelta:
    return seconds(sensor.interval_seconds * settings.current().sensor_offline_factor)


def test_a_silent_detector_on_running_confined_space_raises_offline_and_suspends(site):
    permit = site.running("confined_space")           # the walkthrough binds WT-0001 to it
    walk = site.walk_detector()
    silent_from = walk.last_seen_at
    assert alarms.offline_due(silent_from + allowed(walk)) == 0
    late = silent_from + allowed(walk) + seconds(1)
    assert alarms.offline_due(late) == 1
    alarm = Alarm.get()
    assert (alarm.level, alarm.device, alarm.permit_nos, alarm.suspended) == ("离线", walk.code, [permit.no],
                                                                             [permit.no])
    assert reload(permit).state == "suspended"
    assert reload(walk).offline_since == late
    assert accounts(row.person for row in cards(alarm, 1)) == {"zhuyan", "jianghan", "shenli", "chuwei",
                                                               "wuhai"}
    # Declared once: the next sweep finds it already offline.
    assert alarms.offline_due(late + seconds(600)) == 0
    assert Alarm.select().count() == 1
    # Its next reading brings it back and clears the offline alarm; the work stays stopped.
    back = late + seconds(900)
    site.report(walk, back)
    assert reload(walk).offline_since is None
    assert reload(alarm).cleared_at == back
    assert reload(permit).state == "suspended"
    assert audit.verify().ok


def test_work_stopped_by_a_silent_detector_resumes_only_once_it_reports_again(site):
    permit = site.running("confined_space")
    walk = site.walk_detector()
    late = walk.last_seen_at + allowed(walk) + seconds(1)
    alarms.offline_due(late)
    # The air was fine before the silence: the gas test alone would let the guardian resume.
    with pytest.raises(GateNotMet, match="连续监测"):
        resume(permit.no, by=who("chuwei"), now=late + seconds(60))
    assert reload(permit).state == "suspended"
    site.report(walk, late + seconds(120))
    assert resume(permit.no, by=who("chuwei"), now=late + seconds(150)).state == "in_progress"


def test_silence_counts_from_the_last_reading_not_from_the_start_of_work(site):
    permit = site.issued("confined_space")
    detector = site.detector("GD-0001", interval=600)          # may be silent 30 minutes
    site.bind(permit, detector)
    site.clock.now = max(site.clock.now, permit.planned_start)
    last = site.clock.tick()
    site.report(detector, last)
    site.attach_start_photos(permit)
    started = last + seconds(20 * 60)                           # still reporting: last heard 20 min ago
    assert site.start_work(permit, started).state == "in_progress"
    assert alarms.offline_due(last + allowed(detector)) == 0
    assert alarms.offline_due(last + allowed(detector) + seconds(1)) == 1
    alarm = Alarm.get()
    assert alarm.suspended == [permit.no] and "1801 秒未上报" in alarm.text


def test_a_silent_detector_on_work_without_continuous_monitoring_alarms_but_does_not_suspend(site):
    permit = site.running("hot_work")                # 一级 hot work: continuous monitoring only for 特级
    detector = site.detector("GD-0003", interval=60)
    site.bind(permit, detector)
    last = site.clock.tick()
    site.report(detector, last)
    assert alarms.offline_due(last + allowed(detector)) == 0
    assert alarms.offline_due(last + allowed(detector) + seconds(1)) == 1
    alarm = Alarm.get()
    assert (alarm.level, alarm.permit_nos, alarm.suspended) == ("离线", [permit.no], [])
    assert reload(permit).state == "in_progress"
    assert cards(alarm, 1)
    site.report(detector, last + allowed(detector) + seconds(30))
    assert reload(detector).offline_since is None and reload(alarm).cleared_at is not None
