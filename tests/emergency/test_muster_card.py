"""The live muster card: who holds it, what it says, when it is flagged, and how often it is queued."""
from __future__ import annotations

from datetime import timedelta

import pytest

import settings
from cards.muster import muster_card
from emergency import stop
from emergency.muster import in_charge, late_due, minutes
from models import Emergency, Outbox, find_person
from sensors.alarms import acknowledge
from tests.emergency.test_emergency_stop import clock, running_at  # noqa: F401  (fixture)


def rows(e: Emergency, why: str) -> list[str]:
    return sorted(r.person.account for r in Outbox.select().where(Outbox.dedupe_key.startswith(f"muster:{e.id}:{why}")))


def test_the_raiser_and_the_area_officer_hold_the_card_and_each_tap_queues_one_update(clock):
    running_at("hot_work", "3#罐区 东侧管廊", clock)
    e = stop.raise_emergency("3#罐区 泄漏", by=find_person("chuwei"), now=clock.tick()).emergency
    assert [p.account for p in in_charge(e)] == ["chuwei", "sunli"] and rows(e, "card") == ["chuwei", "sunli"]
    acknowledge(e.alarm_id, by=find_person("jianghan"), channel="cli", now=clock.tick())
    acknowledge(e.alarm_id, by=find_person("jianghan"), channel="cli", now=clock.tick())   # a repeat: no row
    assert rows(e, "ack") == ["chuwei", "sunli"]
    card = muster_card(e.id, person_id=find_person("sunli").id)
    assert (card.kind, [b.label for b in card.buttons]) == ("progress", ["刷新清点"])
    assert card.field("已撤离") == "1 / 3" and card.field("未确认") == "2" and "已撤离：蒋焊" in card.notice


def test_past_the_minutes_the_missing_are_flagged_once(clock):
    running_at("hot_work", "3#罐区 东侧管廊", clock)
    e = stop.raise_emergency("3#罐区 泄漏", by=find_person("sunli"), now=clock.tick()).emergency
    assert late_due(e.raised_at + timedelta(minutes=minutes() - 1)) == 0
    assert late_due(e.raised_at + timedelta(minutes=minutes() + 1)) == 1
    assert rows(e, "late") == ["sunli"]
    late_due(e.raised_at + timedelta(minutes=minutes() + 2))
    assert rows(e, "late") == ["sunli"]
    card = muster_card(e.id, person_id=find_person("sunli").id)   # rendered now, long after MORNING
    assert card.field("超时未确认") == "3" and f"超过 {minutes()} 分钟未确认，请立即寻找：" in card.notice


def test_the_minutes_are_a_setting(monkeypatch):
    monkeypatch.setenv("MUSTER_MINUTES", "3")
    try:
        assert settings.configure().muster_minutes == 3 and minutes() == 3
        monkeypatch.setenv("MUSTER_MINUTES", "0")
        with pytest.raises(SystemExit, match="MUSTER_MINUTES=0 must be 1 or more"):
            settings.configure()
    finally:
        monkeypatch.delenv("MUSTER_MINUTES")
        settings.configure()
