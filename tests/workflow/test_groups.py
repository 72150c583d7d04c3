"""Which group chats a place's broadcasts go to, and the rows written for them."""
from __future__ import annotations

from models import Area, Outbox
from sensors.alarms import outbox_rows
from tests.conftest import MORNING
from workflow import groups


def named(name: str) -> Area:
    return Area.get(Area.name == name)


def test_the_nearest_place_naming_a_group_wins_per_platform(plant):
    Area.update(wecom_group="plant-key", dingtalk_group="cidPlant").where(Area.name == "示例化工厂").execute()
    Area.update(wecom_group="unit-key").where(Area.name == "储运罐区").execute()
    assert groups.groups_for(named("3#罐区")) == {"wecom": "unit-key", "dingtalk": "cidPlant"}
    assert groups.groups_for(named("塔T-101")) == {"wecom": "plant-key", "dingtalk": "cidPlant"}


def test_a_place_without_groups_and_free_text_places_write_nothing(plant):
    assert groups.groups_for(named("3#罐区")) == {}
    assert groups.post("3#罐区", "x", key="k") == 0
    assert groups.post("不在区域表里的地方", "x", key="k") == 0
    assert groups.post("", "x", key="k") == 0
    assert not Outbox.select().where(Outbox.kind == "group").exists()


def test_a_post_is_written_once_per_key(plant):
    Area.update(wecom_group="unit-key").where(Area.name == "储运罐区").execute()
    assert groups.post("3#罐区", "【应急】3#罐区：泄漏", key="emergency:1") == 1
    groups.post("3#罐区", "【应急】3#罐区：泄漏", key="emergency:1")
    row = Outbox.get(Outbox.kind == "group")   # one row: a second post of the same key is ignored
    assert row.person_id is None
    assert row.payload == {"kind": "group", "system": "wecom", "group": "unit-key", "area": "3#罐区",
                           "text": "【应急】3#罐区：泄漏"}


def test_an_alarms_group_rows_are_sent_with_its_first_round(plant):
    """The request that raises an alarm enqueues its first-round rows at once: the group rows go with them."""
    from models import Alarm
    Area.update(dingtalk_group="cidTank3").where(Area.name == "3#罐区").execute()
    alarm = Alarm.create(level="二级", text="H2S=25", area="3#罐区", permit_nos=[], suspended=[], recipients=[],
                         reading_at=MORNING, raised_at=MORNING)
    groups.post(alarm.area, f"【报警·二级】{alarm.text}", key=f"alarm:{alarm.id}")
    assert [Outbox.get_by_id(i).kind for i in outbox_rows([alarm.id])] == ["group"]
