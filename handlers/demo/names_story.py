"""The scripted names story: people named as people name them, in the one-message form.

朱岩 applies naming the crew by name; the plant has two 蒋焊, so a card asks which one, showing each
one's unit and the last digits of the mobile, and the click decides. A name nobody has gets the
closest matches. The cheapest story: the one that is run many times in a row.
"""
from __future__ import annotations

from typing import Callable

from models import Department, Person, PersonRole
from models.permit import Permit

from .demo import APP_NAME, Demo, account, hot_work_form, phone_for, wait_delivered
from .gas_story import expect

TWIN = {"name": "蒋焊", "wecom_userid": "jianghan_u2", "dingtalk_userid": "dt_jianghan_u2", "mobile": "13900009999"}


def _twin() -> Person:
    """Give the sample plant a second 蒋焊, in 储运车间 (again: reloading the sample plant retires him)."""
    twin = Person.get_or_none(Person.wecom_userid == TWIN["wecom_userid"])
    if twin is None:
        twin = Person.create(**TWIN, department=Department.get(Department.code == "U2"))
        PersonRole.create(person=twin, role="作业人")
    twin.active = True
    twin.save()
    return twin


def _texts(phone, user: str) -> list[str]:
    return [m["content"]["content"] for m in phone.messages(user) if m["msgtype"] == "text"]


def names(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """Apply with the crew named by name; pick the right 蒋焊 on the card; a stranger's name gets suggestions."""
    from bot.registry import platform_for
    phone = phone_for(demo, platform)
    _twin()
    applicant = account(phone, "zhuyan")
    by_name = hot_work_form("二级").replace("作业人: jianghan,shenli", "作业人: 蒋焊,沈力").replace(
        "监护人: chuwei", "监护人: 褚卫")
    before = Permit.select().count()
    say(f"朱岩 在{APP_NAME[platform_for(Person.get(Person.wecom_userid == 'zhuyan'))]}发送动火作业申请："
        "作业人: 蒋焊,沈力  监护人: 褚卫")
    phone.text(applicant, by_name)
    wait_delivered()
    card = phone.open_card(applicant, "pick-")
    expect(card is not None, "朱岩 没有收到“蒋焊是哪一位”的卡片")
    labels = phone.buttons(card)
    say(f"  {'同名确认':<12} 卡片：“蒋焊”有 2 人 → {' / '.join(labels)}")
    expect("常减压车间 0015" in labels, f"卡片上没有 常减压车间 的蒋焊：{labels}")
    expect(Permit.select().count() == before, "没有确认同名人员就提交了申请")
    phone.click(applicant, card, button=labels.index("常减压车间 0015"))
    wait_delivered()
    permit = Permit.select().order_by(Permit.id.desc()).first()
    expect(permit is not None and Permit.select().count() == before + 1, "点击后没有提交申请")
    crew = [m.person.wecom_userid for m in permit.members if m.role == "作业人"]
    expect(crew == ["jianghan", "shenli"], f"作业人不对：{crew}")
    say(f"  {'点击选择':<12} 朱岩 点击“常减压车间 0015” → {permit.no} 已提交，作业人 蒋焊、沈力")
    planner = account(phone, "zhengji")
    expect(phone.open_card(planner, f"{permit.no}-plan-") is not None, "郑计 没有在本应用收到作业计划卡片")
    say(f"  {'作业计划':<12} 郑计 在{APP_NAME[platform_for(Person.get(Person.wecom_userid == 'zhengji'))]}"
        "收到卡片")
    phone.text(applicant, by_name.replace("作业人: 蒋焊,沈力", "作业人: 蒋汉,沈力"))
    wait_delivered()
    refusal = _texts(phone, applicant)[-1]
    expect("您要找的是否为：蒋焊（常减压车间，手机尾号 0015）" in refusal, f"没有给出最接近的人员：{refusal}")
    say(f"  {'查无此人':<12} “蒋汉” → {refusal.splitlines()[-1]}")
