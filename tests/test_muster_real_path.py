"""一键应急 at a crowded area, on WeCom and on DingTalk: 12 people on 3 permits all get the card, the
muster counts each tap as it comes, and whoever never taps is named, then flagged once overdue."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import requests

from models import Certificate, Department, Emergency, Outbox, Person, PersonRole, find_person
from models.permit import Permit
from tests.conftest import MORNING
from tests.emergency.test_emergency_stop import running_at
from tests.worlds import world as a_world
from workflow.walkthrough import Clock

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
# Newcomers to 储运车间, so that three permits at 3#罐区 hold twelve different people.
NEWCOMERS = {"mahan": ("马焊", "焊接与热切割证"), "niuhan": ("牛焊", "焊接与热切割证"),
             "gaopan": ("高攀", "高处作业证"), "tianwa": ("田挖", None), "duwa": ("杜挖", None),
             "qiwa": ("齐挖", None)}
CREWS = {  # work type, spot, crew (the first leads), guardians
    "hot": ("hot_work", "3#罐区 东侧管廊", ("jianghan", "shenli", "mahan", "niuhan"), ("chuwei",)),
    "roof": ("height", "3#罐区 罐顶", ("weidong", "gaopan"), ("heliang",)),
    "dig": ("excavation", "3#罐区 西侧围堰", ("tianwa", "duwa", "qiwa"), ("luodian",)),
}
TWELVE = [a for _t, _at, crew, guardians in CREWS.values() for a in crew + guardians]


@pytest.fixture
def crowd(plant):
    """Hire the newcomers, with the certificates their work needs, before the sandboxes learn the staff."""
    unit = Department.get(Department.code == "U2")
    for n, (account, (name, certificate)) in enumerate(NEWCOMERS.items()):
        person = Person.create(name=name, wecom_userid=account, mobile=f"1390000{n:04d}", department=unit)
        PersonRole.create(person=person, role="作业人")
        if certificate:
            Certificate.create(person=person, kind=certificate, number=f"T-{account}",
                               valid_until=date(2030, 12, 31))
    return plant


@pytest.fixture
def world(request, crowd, monkeypatch, redis_conn):
    with a_world(request.param, plant=crowd, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1])


def tally(page: requests.Response) -> tuple[int, int]:
    """Return (safe, total) as the muster page shows them."""
    found = re.search(r'data-safe="(\d+)" data-total="(\d+)"', page.text)
    return int(found.group(1)), int(found.group(2))


@BOTH
def test_twelve_people_on_three_permits_are_all_called_and_counted_tap_by_tap(world):
    from emergency.muster import minutes, url
    from jobs import scans
    phone, drain = world.phone, world.drain
    clock = Clock(MORNING - timedelta(hours=2))
    permits = {key: running_at(kind, at, clock, crew=crew, guardians=guardians)
               for key, (kind, at, crew, guardians) in CREWS.items()}
    drain()
    assert len(set(TWELVE)) == 12

    phone.text("sunli", "应急 3#罐区 西侧围堰可燃气体报警，东侧有异味")
    drain()
    assert {Permit.get_by_id(p.id).state for p in permits.values()} == {"suspended"}
    assert f"已暂停：{'、'.join(p.no for p in permits.values())}" in said(phone, "sunli")
    e = Emergency.get()
    for account in TWELVE:
        card = phone.open_card(account, f"alarm-{e.alarm_id}-")
        assert card is not None, f"{account} got no emergency card"
        assert phone.buttons(card) == ["已撤离到安全区"] and "西侧围堰可燃气体报警" in str(card["state"]["card"])
    alarm_rows = Outbox.select().where(Outbox.dedupe_key.startswith(f"alarm:{e.alarm_id}:"))
    assert {r.state for r in alarm_rows} == {"sent"}

    board = url(e)
    assert tally(requests.get(board, timeout=10)) == (0, 12)
    phone.text("sunli", "清点 3#罐区")
    drain()
    missing = re.search(r"未确认：([^\n]*)", said(phone, "sunli").replace("\\n", "\n")).group(1)
    assert "已撤离 0 / 12" in said(phone, "sunli")
    assert sorted(missing.split("、")) == sorted(find_person(a).name for a in TWELVE)
    absent, tapping = "qiwa", [a for a in TWELVE if a != "qiwa"]
    for n, account in enumerate(tapping, start=1):
        phone.click(account, phone.open_card(account, f"alarm-{e.alarm_id}-"))
        drain()
        assert phone.open_card(account, f"alarm-{e.alarm_id}-") is None      # settled in place
        assert tally(requests.get(board, timeout=10)) == (n, 12), f"after {account}'s tap"

    phone.text("sunli", "清点 3#罐区")
    drain()
    answer = said(phone, "sunli")
    assert "已撤离 11 / 12" in answer and "未确认：齐挖" in answer and "全部人员已撤离" not in answer

    # Past the configured minutes the one who never tapped is named on the card of the person in charge.
    Emergency.update(raised_at=e.raised_at - timedelta(minutes=minutes() + 1)).where(
        Emergency.id == e.id).execute()
    scans.run_all()
    drain()
    cards = [m for m in phone.messages("sunli") if (m.get("task_id") or "").startswith(f"muster-{e.id}-")]
    assert re.search(f"超过 {minutes()} 分钟未确认，请立即寻找：齐挖(?!、)", str(cards[-1]["state"]["card"]))
    phone.text("sunli", "清点 3#罐区")
    drain()
    assert "未确认：齐挖（超时）" in said(phone, "sunli")

    phone.click(absent, phone.open_card(absent, f"alarm-{e.alarm_id}-"))
    drain()
    assert tally(requests.get(board, timeout=10)) == (12, 12)
    phone.text("sunli", "清点 3#罐区")
    drain()
    assert "已撤离 12 / 12" in said(phone, "sunli") and "全部人员已撤离到安全区" in said(phone, "sunli")
