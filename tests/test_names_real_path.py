"""People named as people name them, through the chat path on both platforms: name, pinyin, initials,
a card that asks which of two namesakes, and the closest matches for a name not found."""
from __future__ import annotations

import pytest

from models import Department, NameChoice, Person, PersonRole
from models.permit import Permit
from workflow import machine

from tests.test_lockout_real_path import texts
from tests.test_wecom_real_path import apply_text
from tests.worlds import world as a_world

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w.phone, w.drain


def form(crew: str, guardian: str) -> str:
    return apply_text().replace("作业人: jianghan,shenli", f"作业人: {crew}").replace("监护人: chuwei",
                                                                                   f"监护人: {guardian}")


def people_of(permit: Permit, role: str) -> list[str]:
    return [p.wecom_userid for p in machine.members(permit, role)]


@BOTH
def test_a_form_names_people_by_name_pinyin_initials_and_mobile(world):
    phone, drain = world
    phone.text("zhuyan", form("蒋焊,shenli", "cw"))
    drain()
    permit = Permit.get()
    assert permit.state != "draft", texts(phone, "zhuyan")
    assert people_of(permit, "作业人") == ["jianghan", "shenli"] and people_of(permit, "监护人") == ["chuwei"]
    phone.text("zhuyan", form("JiangHan,13800000016", "褚卫"))
    drain()
    second = Permit.select().order_by(Permit.id.desc()).get()
    assert second.id != permit.id and people_of(second, "作业人") == ["jianghan", "shenli"], texts(phone, "zhuyan")[-1]


@BOTH
def test_two_people_of_one_name_are_told_apart_by_a_click(world):
    phone, drain = world
    other_unit = Department.get(Department.code == "U2")
    twin = Person.create(name="蒋焊", wecom_userid="jianghan2", dingtalk_userid="jianghan2", mobile="13900009999",
                         department=other_unit)
    PersonRole.create(person=twin, role="作业人")
    phone.text("zhuyan", form("蒋焊,沈力", "褚卫"))
    drain()
    assert Permit.select().count() == 0            # held until the applicant says which 蒋焊
    card = phone.open_card("zhuyan", "pick-")
    labels = phone.buttons(card)
    assert sorted(labels) == ["储运车间 9999", "常减压车间 0015"]
    phone.click("zhuyan", card, button=labels.index("常减压车间 0015"))
    drain()
    permit = Permit.get()
    assert permit.state != "draft" and people_of(permit, "作业人") == ["jianghan", "shenli"]
    assert NameChoice.get().chosen_id == Person.get(Person.wecom_userid == "jianghan").id
    assert phone.open_card("zhuyan", "pick-") is None   # the card now says who was chosen


@BOTH
def test_a_name_not_found_is_refused_with_the_closest_matches(world):
    phone, drain = world
    phone.text("zhuyan", form("蒋汉,沈力", "褚卫"))
    drain()
    assert Permit.select().count() == 0
    refusal = texts(phone, "zhuyan")[-1]
    assert "找不到人员 蒋汉" in refusal and "您要找的是否为：蒋焊（常减压车间，手机尾号 0015）" in refusal
