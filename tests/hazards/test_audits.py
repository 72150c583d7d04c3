"""Random audits: a seeded draw anyone can repeat, about the configured share over many days, done on site;
a failed item opens a finding against the permit's unit."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from hazards import audits
from models import AuditDraw, AuditEvent, CheckIn, Finding, Outbox, PermitAudit, find_person
from tests.conftest import MORNING
from tests.emergency.test_emergency_stop import running_at
from workflow import InvalidPermit, InvalidTransition, NotAuthorized
from workflow.walkthrough import Clock

PERMITS = [f"DH-20261124-{i:04d}" for i in range(1, 51)]


def test_the_same_seed_draws_the_same_permits_and_another_seed_others():
    first = audits.pick(PERMITS, "5eed", 0.1)
    assert audits.pick(list(reversed(PERMITS)), "5eed", 0.1) == first     # the order handed in does not matter
    assert any(audits.pick(PERMITS, f"other-{i}", 0.1) != first for i in range(5))
    assert audits.pick(PERMITS, "5eed", 0.0) == [] and audits.pick(PERMITS, "5eed", 1.0) == PERMITS


def test_about_the_share_is_drawn_over_many_days():
    drawn = sum(len(audits.pick(PERMITS, f"day-{day}", 0.1)) for day in range(365))
    assert 0.08 < drawn / (365 * len(PERMITS)) < 0.12


def _running(n: int = 3):
    clock = Clock(MORNING - timedelta(hours=2))
    return [running_at("hot_work", "3#罐区 东侧管廊", clock) for _ in range(n)]


def test_a_draw_is_recorded_once_a_day_and_can_be_repeated_from_its_record(plant):
    permits = _running(3)
    draw = audits.draw(date(2026, 11, 24), seed="fixed", share=0.5, now=MORNING + timedelta(hours=2))
    assert draw.population == sorted(p.no for p in permits)
    assert draw.drawn == audits.pick(draw.population, "fixed", 0.5) == audits.reproduce(AuditDraw.get())
    assert audits.draw(date(2026, 11, 24), seed="another", now=MORNING + timedelta(hours=3)).id == draw.id
    event = AuditEvent.get(AuditEvent.action == "audit_draw")
    assert (event.data["seed"], event.data["drawn"]) == ("fixed", draw.drawn)
    assert PermitAudit.select().count() == len(draw.drawn)
    for no in draw.drawn:
        text = [r.payload["text"] for r in Outbox.select().where((Outbox.person == find_person("sunli"))
                                                                 & (Outbox.kind == "reply"))
                if f"抽查 {no}" in r.payload["text"]]
        assert text and "灭火器材已配备到位" in text[0]


def test_the_scan_draws_once_from_nine_in_the_morning(plant):
    _running(2)
    before_nine = MORNING   # 08:00 plant time
    assert audits.draw_due(before_nine) == 0 and not AuditDraw.select().exists()
    audits.draw_due(MORNING + timedelta(hours=1, minutes=1))
    assert AuditDraw.select().count() == 1
    audits.draw_due(MORNING + timedelta(hours=3))
    assert AuditDraw.select().count() == 1


def test_a_result_needs_the_officer_on_site_and_a_failed_item_opens_a_finding(plant):
    permit = _running(1)[0]
    audits.draw(date(2026, 11, 24), seed="all", share=1.0, now=MORNING + timedelta(hours=2))
    officer = find_person("sunli")
    with pytest.raises(InvalidPermit, match="请先到现场扫描"):
        audits.record(permit.no, False, "3 灭火器不足", by=officer, now=MORNING + timedelta(hours=3))
    with pytest.raises(NotAuthorized, match="由孙立负责"):
        audits.record(permit.no, True, by=find_person("zhuyan"), now=MORNING + timedelta(hours=3))
    CheckIn.create(permit=permit, person=officer, at=MORNING + timedelta(hours=3), source="scan", kind="visit")
    for words, error in [("", "请写明不合格项目的序号"), ("99 说明", "项目序号应在 1 到"), ("3", "请写明不合格的情况")]:
        with pytest.raises(InvalidPermit, match=error):
            audits.record(permit.no, False, words, by=officer, now=MORNING + timedelta(hours=3))
    assert not Finding.select().exists()
    row = audits.record(permit.no, False, "10 灭火器不足", by=officer, now=MORNING + timedelta(hours=3))
    finding = Finding.get()
    assert (row.state, row.failed, row.finding_id) == ("failed", [10], finding.id)
    assert (finding.source, finding.unit_id, finding.area.name) == ("抽查", permit.unit_id, "3#罐区")
    assert "灭火器材已配备到位" in finding.description and "灭火器不足" in finding.description
    with pytest.raises(InvalidTransition, match="已抽查：不合格"):
        audits.record(permit.no, True, by=officer, now=MORNING + timedelta(hours=4))
