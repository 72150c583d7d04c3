"""Inspection plans end to end, on WeCom and on DingTalk: loaded from the sample workbook, pushed by the
scheduler's scan as a checklist card, refused until the inspector scans a site code in the area, and
submitted with one item ticked 不符合, which opens a finding; a round not done in time is reminded and
escalated up the inspector's unit."""
from __future__ import annotations

from datetime import timedelta

import pytest

from exports.inspection_import import load_inspections
from exports.samples.build_sample_inspections import OUT as SAMPLE, TANK_FARM
from jobs.scans import run_all
from models import AuditEvent, CheckIn, Finding, Inspection, InspectionPlan, find_person
from tests.conftest import MORNING
from tests.worlds import world as a_world

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
IN_THE_SHIFT = MORNING + timedelta(minutes=30)        # 08:30 at the plant: the day shift's round


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(getattr(request, "param", "wecom"), plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1])


def everything(phone, user: str) -> str:
    return "\n".join(map(str, phone.messages(user)))


def items_of(phone, message: dict) -> list[str]:
    card = message["state"]["card"]
    if phone.platform == "dingtalk":
        return [item["text"] for item in card["checklist"]]
    return [option["text"] for option in card["checkbox"]["option_list"]]


def _pushed(world, at=IN_THE_SHIFT) -> Inspection:
    load_inspections(SAMPLE)
    run_all(at.isoformat())
    world.drain()
    return Inspection.get(Inspection.plan == InspectionPlan.get(InspectionPlan.name == "3#罐区每班巡检"))


@BOTH
def test_a_due_round_is_a_checklist_card_done_on_site_and_a_failed_item_opens_a_finding(world):
    from tests.emergency.test_emergency_stop import running_at
    from workflow.walkthrough import Clock
    phone, drain = world.phone, world.drain
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - timedelta(hours=2)))
    drain()
    round_ = _pushed(world)
    assert (round_.starts_at, round_.due_at) == (MORNING, MORNING + timedelta(hours=8))
    card = phone.open_card("heliang", f"inspection-{round_.id}-")
    assert card is not None and items_of(phone, card) == list(TANK_FARM)
    assert "待您巡检：3#罐区每班巡检" in str(card)
    run_all((IN_THE_SHIFT + timedelta(minutes=5)).isoformat())   # a second scan pushes nothing more
    drain()
    assert len([m for m in phone.messages("heliang") if (m.get("task_id") or "").startswith("inspection-")]) == 1

    phone.click("heliang", card, ticks=[1])                     # before scanning any site code
    drain()
    assert "请先到现场扫描3#罐区内作业票的二维码签到" in said(phone, "heliang")
    assert Inspection.get_by_id(round_.id).state == "pending" and Finding.select().count() == 0

    assert phone.visit("heliang", hot.no).status_code == 200
    assert CheckIn.select().where(CheckIn.person == find_person("heliang")).exists()
    card = phone.open_card("heliang", f"inspection-{round_.id}-")
    phone.click("heliang", card, ticks=[1], repeat=2)           # 灭火器 does not conform; the platform retries
    drain()
    f = Finding.get()
    assert f"已登记隐患 {f.no}" in said(phone, "heliang")
    assert (f.source, f.area.name, f.category, f.found_by.name) == ("巡检", "3#罐区", "巡检", "何亮")
    assert TANK_FARM[1] in f.description
    assert f"请指派整改：指派 {f.no}" in said(phone, "sunli")      # the area's safety officer, as any finding
    done = Inspection.get_by_id(round_.id)
    assert (done.state, done.failed, done.findings, done.permit.no) == ("done", [2], [f.no], hot.no)
    assert phone.open_card("heliang", f"inspection-{round_.id}-") is None   # the card settled
    assert "已巡检：3#罐区每班巡检" in everything(phone, "heliang")
    assert Finding.select().count() == 1
    assert [e.data["plan"] for e in AuditEvent.select().where(AuditEvent.action == "inspection_done")] == \
        ["3#罐区每班巡检"]


@BOTH
def test_a_round_not_done_in_time_is_reminded_then_escalated(world):
    phone, drain = world.phone, world.drain
    round_ = _pushed(world)
    run_all((round_.due_at + timedelta(minutes=1)).isoformat())
    drain()
    assert "催办：巡检“3#罐区每班巡检”" in everything(phone, "heliang")
    assert "超期上报" not in everything(phone, "qinchuan")
    run_all((round_.due_at + timedelta(hours=8, minutes=2)).isoformat())
    drain()
    for head in ("qinchuan",):   # the head of 储运车间, 何亮's unit
        assert "超期上报：巡检“3#罐区每班巡检”" in everything(phone, head)
    assert Inspection.get_by_id(round_.id).escalation_level == 1


@BOTH
def test_a_random_audit_comes_as_a_card_whose_ticks_are_the_failed_measures(world, monkeypatch):
    import settings
    from models import PermitAudit
    from tests.emergency.test_emergency_stop import running_at
    from workflow.walkthrough import Clock
    phone, drain = world.phone, world.drain
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - timedelta(hours=2)))
    drain()
    monkeypatch.setenv("AUDIT_SHARE", "1")
    settings.configure()
    run_all((MORNING + timedelta(hours=1, minutes=5)).isoformat())   # 09:05 at the plant
    drain()
    row = PermitAudit.get()
    card = phone.open_card("sunli", f"audit-{row.id}-")
    assert card is not None and items_of(phone, card) == row.items and f"待您抽查：{hot.no}" in str(card)

    phone.click("sunli", card, ticks=[9])                       # before scanning the permit's site code
    drain()
    assert "请先到现场扫描" in everything(phone, "sunli") and PermitAudit.get().state == "pending"
    assert phone.visit("sunli", hot.no).status_code == 200
    phone.click("sunli", phone.open_card("sunli", f"audit-{row.id}-"), ticks=[9])
    drain()
    f = Finding.get()
    assert f"{hot.no} 抽查不合格，已登记隐患 {f.no}" in said(phone, "sunli")
    assert (f.source, f.unit_id, row.items[9] in f.description) == ("抽查", hot.unit_id, True)
    done = PermitAudit.get()
    assert (done.state, done.failed, done.finding_id) == ("failed", [10], f.id)
    assert phone.open_card("sunli", f"audit-{row.id}-") is None and f"已抽查：{hot.no}" in everything(phone, "sunli")


def _open_area_board(world, user: str, area: str = "3#罐区") -> None:
    """Scan the QR code of area's board at its entrance with user's chat app (its OAuth, as on site)."""
    from handlers.web.area_board import url as area_url
    from models import Area
    _, page = world.phone.open_code(user, area_url(Area.get(Area.name == area)))
    assert page.status_code == 200


@BOTH
def test_a_round_of_an_area_with_no_live_permit_is_proved_by_opening_its_board_in_the_app(world):
    from exports.hazards import ROUND_COLUMNS
    from hazards.inspections import proof
    from models import AreaVisit, Permit
    phone, drain = world.phone, world.drain
    round_ = _pushed(world)
    assert not Permit.select().exists()                         # nothing in the area has a code to scan
    card = phone.open_card("heliang", f"inspection-{round_.id}-")
    phone.click("heliang", card, ticks=[1])
    drain()
    assert "或用手机扫描区域入口看板的二维码" in said(phone, "heliang")
    _open_area_board(world, "sunli")                            # someone else's visit proves nothing for 何亮
    phone.click("heliang", phone.open_card("heliang", f"inspection-{round_.id}-"), ticks=[1])
    drain()
    assert "请先到现场扫描3#罐区内作业票的二维码签到" in said(phone, "heliang")
    assert Inspection.get_by_id(round_.id).state == "pending" and Finding.select().count() == 0

    _open_area_board(world, "heliang")
    visit = AreaVisit.get(AreaVisit.person == find_person("heliang"))
    assert (visit.area.name, visit.platform) == ("3#罐区", world.platform)
    phone.click("heliang", phone.open_card("heliang", f"inspection-{round_.id}-"), ticks=[1])
    drain()
    f = Finding.get()
    assert f"已登记隐患 {f.no}" in said(phone, "heliang") and f.area.name == "3#罐区"
    done = Inspection.get_by_id(round_.id)
    assert (done.state, done.permit_id, done.findings) == ("done", None, [f.no])
    event = AuditEvent.get(AuditEvent.action == "inspection_done")
    assert event.data["visit"] == visit.id
    # The 巡检记录 sheet's presence column names the board and when it was opened.
    assert ROUND_COLUMNS[-1].header == "现场签到" and proof(done).startswith("区域看板 3#罐区 ")


@BOTH
def test_a_visit_to_the_area_board_before_the_round_began_does_not_prove_it(world):
    from models import utcnow
    phone, drain = world.phone, world.drain
    _open_area_board(world, "heliang")
    round_ = _pushed(world, at=utcnow() + timedelta(hours=8))   # the next shift's round, begun after the visit
    assert round_.starts_at > utcnow()
    phone.click("heliang", phone.open_card("heliang", f"inspection-{round_.id}-"), ticks=[1])
    drain()
    assert "请先到现场扫描3#罐区内作业票的二维码签到" in said(phone, "heliang")
    assert Inspection.get_by_id(round_.id).state == "pending" and Finding.select().count() == 0


@BOTH
def test_a_visit_to_the_board_of_the_area_holding_the_plans_area_proves_its_round(world):
    from hazards.inspections import proof
    phone, drain = world.phone, world.drain
    round_ = _pushed(world)
    _open_area_board(world, "heliang", "储运罐区")               # its board lists everything under it, 3#罐区 too
    phone.click("heliang", phone.open_card("heliang", f"inspection-{round_.id}-"), ticks=[1])
    drain()
    done = Inspection.get_by_id(round_.id)
    assert done.state == "done" and proof(done).startswith("区域看板 储运罐区 ")
