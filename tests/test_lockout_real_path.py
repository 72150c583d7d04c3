"""Energy isolation and shift handover end to end, on WeCom and DingTalk: chat commands and card clicks
through the sandbox → app → engine → database → rq worker on a real Redis → real SDK → sandbox."""
from __future__ import annotations

import re

import pytest
import requests

from handlers.demo.scripted import take_through, tiny_png
from models import AuditEvent, Signature, Step
from models.handover import Handover
from models.isolation import IsolationLink, IsolationPoint
from models.permit import Permit
from workflow import audit, machine

from tests.test_wecom_real_path import apply_text
from tests.worlds import world as a_world

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w.phone, w.drain


def texts(phone, user: str) -> list[str]:
    return [m["content"]["content"] for m in phone.messages(user) if m["msgtype"] == "text"]


def last_refusal() -> str:
    return (AuditEvent.select().where(AuditEvent.action == "refused")
            .order_by(AuditEvent.seq.desc()).first().data["reason"])


def board(permit: Permit, *, area: bool = False) -> str:
    """Fetch the permit's board (or its area's board) over HTTP, as the phone at the site would."""
    from cards import links
    from handlers.web.area_board import url as area_url
    from workflow import places
    page = requests.get(area_url(places.area_of(permit)) if area else links.url(permit), timeout=10)
    assert page.status_code == 200
    return page.text


def apply(phone, drain, guardian: str = "chuwei") -> Permit:
    before = {p.id for p in Permit.select()}
    phone.text("zhuyan", apply_text().replace("监护人: chuwei", f"监护人: {guardian}"))
    drain()
    return next(p for p in Permit.select() if p.id not in before)


@BOTH
def test_an_isolation_shared_by_two_permits_is_released_only_after_both_close(world):
    phone, drain = world
    first = apply(phone, drain)
    phone.text("zhuyan", f"隔离 {first.no} V-101 拧紧 L-01")
    drain()
    assert last_refusal() == "隔离方式“拧紧”无效，可选：关阀上锁、断电上锁、加盲板、拆除管段"
    assert IsolationPoint.select().count() == 0
    phone.text("zhuyan", f"隔离 {first.no} V-101 关阀上锁 L-01 T-01")
    drain()
    point = IsolationPoint.get()
    card = phone.open_card("chuwei", f"isolation-{point.id}-verify-")
    assert phone.buttons(card) == ["确认隔离"]
    phone.click("chuwei", card)
    drain()
    point = IsolationPoint.get_by_id(point.id)
    assert (point.state, point.verified_by.wecom_userid) == ("verified", "chuwei")
    assert phone.open_card("chuwei", f"isolation-{point.id}-verify-") is None   # settled in place
    second = apply(phone, drain, guardian="weidong")
    phone.text("zhuyan", f"隔离 {second.no} V-101 关阀上锁 L-01")
    drain()
    assert f"与 {first.no} 共用" in texts(phone, "zhuyan")[-1]
    assert IsolationPoint.select().count() == 1 and IsolationLink.select().count() == 2
    assert take_through(phone, first.no, drain).state == "closed"
    phone.text("zhuyan", "解除隔离 V-101")
    drain()
    assert texts(phone, "zhuyan")[-1] == f"未办理：点位 V-101 不能解除隔离：作业票 {second.no} 尚未关闭"
    assert IsolationPoint.get_by_id(point.id).state == "verified"
    assert take_through(phone, second.no, drain).state == "closed"
    assert IsolationPoint.get_by_id(point.id).state == "releasing"
    release = phone.open_card("zhuyan", f"isolation-{point.id}-release-")
    assert phone.buttons(release) == ["解除隔离"]
    phone.click("zhuyan", release)
    drain()
    point = IsolationPoint.get_by_id(point.id)
    assert (point.state, point.released_by.wecom_userid) == ("released", "zhuyan")
    for no in (first.no, second.no):
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.permit_no == no).order_by(AuditEvent.seq)]
        assert "isolate" in actions and actions[-2:] == ["release_assigned", "release_isolation"]
    assert audit.verify().ok


@BOTH
def test_a_handover_mid_work_lets_the_new_guardian_sign_and_not_the_old_one(world):
    phone, drain = world
    permit = apply(phone, drain)
    take_through(phone, permit.no, drain, until="in_progress")
    phone.text("chuwei", f"交接 {permit.no} jianghan")     # a worker without the guardian's training
    drain()
    assert last_refusal() == "蒋焊没有“监护人”资格，不能接任监护人"
    phone.text("chuwei", f"交接 {permit.no} nobody")
    drain()
    assert last_refusal().startswith("找不到人员 nobody")
    assert last_refusal().endswith("接班人须是本厂组织架构中的在职人员")
    assert Handover.select().count() == 0
    phone.text("chuwei", f"交接 {permit.no} 卫东")          # by the name people use
    drain()
    row = Handover.get()
    out_card = phone.open_card("chuwei", f"handover-{row.id}-out-")
    assert phone.buttons(out_card) == ["确认交班"]
    phone.click("chuwei", out_card)
    drain()
    in_card = phone.open_card("weidong", f"handover-{row.id}-in-")
    phone.click("weidong", in_card)          # not yet on site: refused, nothing changes
    drain()
    assert last_refusal() == "请先到现场扫码签到（30 分钟内有效），再确认接班"
    assert Handover.get_by_id(row.id).state == "confirmed_out"
    assert [p.name for p in machine.members(Permit.get_by_id(permit.id), "监护人")] == ["褚卫"]
    assert re.search(r"褚卫 → 卫东</td>\s*<td>待接班人现场确认 · 交班确认 \d\d:\d\d</td>", board(permit))
    assert phone.scan("weidong", permit.no) == 200
    old_card = phone.open_card("chuwei", f"{permit.no}-complete-")
    phone.click("weidong", phone.open_card("weidong", f"handover-{row.id}-in-"))
    # The old guardian clicks the card he still holds before its update reaches him: refused.
    phone.click("chuwei", old_card)
    drain()
    assert Handover.get_by_id(row.id).state == "done"
    assert [p.name for p in machine.members(Permit.get_by_id(permit.id), "监护人")] == ["卫东"]
    assert re.search(r"监护人</td>\s*<td>褚卫 → 卫东</td>\s*<td>已交接 · 交班确认 \d\d:\d\d · 接班确认", board(permit))
    area = board(permit, area=True)
    assert "交接：监护人 褚卫 → 卫东 · 已交接" in area
    assert last_refusal() == "褚卫不是“完工确认”的签字人，应由 卫东 签字"
    assert phone.open_card("chuwei", f"{permit.no}-complete-") is None
    # The old guardian leaving no longer stops the work.
    phone.visit("chuwei", permit.no, "out")
    drain()
    assert Permit.get_by_id(permit.id).state == "in_progress"
    phone.text("zhuyan", f"照片 {permit.no}")     # hot work's completion needs the finished site's photo
    drain()
    phone.photo("zhuyan", tiny_png(), "done.png")
    drain()
    new_card = phone.open_card("weidong", f"{permit.no}-complete-")
    phone.click("weidong", new_card)
    drain()
    assert Permit.get_by_id(permit.id).state == "completed"
    step = Step.get((Step.permit == permit.id) & (Step.key == "complete"))
    assert [s.person.wecom_userid for s in Signature.select().where(Signature.step == step)] == ["weidong"]
    assert audit.verify().ok


@BOTH
def test_a_photo_aimed_at_an_isolation_point_shows_on_the_board_and_in_the_ledger(world, tmp_path):
    from openpyxl import load_workbook
    from cards import links
    from exports.build import build_ledger
    from exports.period import month as read_month
    from exports.run import Run
    from exports.scope import Scope
    from handlers.demo.scripted import tiny_png
    from models import Attachment, Conversation, utcnow
    phone, drain = world
    permit = apply(phone, drain)
    phone.text("zhuyan", f"隔离 {permit.no} V-101 关阀上锁 L-01 T-01")
    drain()
    point = IsolationPoint.get()

    # Refused, and nothing aimed: a tag nobody locked out, and someone not on the point's permits.
    phone.text("chuwei", "照片 V-999")
    drain()
    assert "“V-999”既不是作业票编号，也不是未解除的隔离点位" in texts(phone, "chuwei")[-1]
    phone.text("lvming", "照片 V-101")
    drain()
    assert "吕明与点位 V-101 所属的作业票无关，不能上传隔离照片" in texts(phone, "lvming")[-1]
    assert not Conversation.select().exists()
    assert "无照片" in board(permit)

    phone.text("chuwei", "照片 V-101")
    drain()
    assert "请发送点位 V-101 的隔离照片" in texts(phone, "chuwei")[-1]
    picture = tiny_png(90)
    phone.photo("chuwei", picture, "lock.png")
    drain()
    assert f"照片已作为点位 V-101 的隔离照片保存（归入作业票 {permit.no}）" in texts(phone, "chuwei")[-1]
    point = IsolationPoint.get_by_id(point.id)
    assert (point.photo.permit_id, point.photo.kind, point.photo.uploaded_by.wecom_userid) == (
        permit.id, "隔离点位 V-101", "chuwei")
    assert AuditEvent.get(AuditEvent.action == "isolation_photo").data["attachment"] == point.photo_id
    assert not Conversation.select().exists()       # used up: the next photo goes where it always did
    assert audit.verify().ok

    # The board shows it, served only under this permit's own signed link.
    page = board(permit)
    found = re.search(r'<img class="isolation-photo" alt="V-101 隔离照片" src="([^"]+)"', page)
    assert found is not None
    photo_url = links.url(permit).split("/board/")[0] + found.group(1).replace("&amp;", "&")
    served = requests.get(photo_url, timeout=10)
    assert served.status_code == 200 and served.content == picture
    assert requests.get(photo_url.replace(links.token(permit, "view"), "x" * 20), timeout=10).status_code == 404
    other = apply(phone, drain, guardian="weidong")
    other_url = photo_url.replace(permit.no, other.no).replace(links.token(permit, "view"), links.token(other, "view"))
    assert requests.get(other_url, timeout=10).status_code == 404     # not a point of that permit

    # The ledger's 隔离台账 names who took it and when, with the picture over the cell.
    built = build_ledger(Scope(read_month(f"{utcnow():%Y-%m}")), tmp_path / "ledger.xlsx", Run.current())
    sheet = load_workbook(built.path)["隔离台账"]
    headers = [c.value for c in sheet[3]]
    row = [c.value for c in sheet[4]]
    assert row[headers.index("点位")] == "V-101" and row[headers.index("照片")].startswith("褚卫 ")
    assert [(i.anchor._from.col, i.anchor._from.row) for i in sheet._images] == [(headers.index("照片"), 3)]
    assert Attachment.select().count() == 1
