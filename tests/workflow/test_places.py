"""A permit's location names a node of the area tree; a place not in the tree is refused with the nearest."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Area, AuditEvent, find_person
from models.permit import Permit
from tests.conftest import MORNING
from workflow import InvalidPermit, create_permit, edit_draft, places, submit


def draft_at(location: str) -> Permit:
    return create_permit("height", applicant=find_person("zhuyan"), location=location, content="仪表更换",
                         attributes={"height_m": 12}, planned_start=MORNING,
                         planned_end=MORNING + timedelta(hours=8), crew=[find_person("jianghan")],
                         guardians=[find_person("chuwei")], now=MORNING - timedelta(hours=3))


@pytest.mark.parametrize("location, node, spot", [
    ("1#罐区", "1#罐区", ""),
    ("11#罐区 东侧管廊", "11#罐区", "东侧管廊"),
    ("1#罐区东侧", "1#罐区", "东侧"),
    ("常减压装置 V-101", "V-101", ""),          # a path down the tree names the deepest node
    ("常减压装置 塔T-101 平台", "塔T-101", "平台"),
    ("储运罐区 管廊", "储运罐区", "管廊"),
])
def test_a_location_names_the_longest_node_it_starts_with(plant, location, node, spot):
    found, rest = places.split(location)
    assert (found.name, rest) == (node, spot)


def test_the_permit_keeps_its_node_and_its_exact_spot(plant):
    permit = draft_at("11#罐区 东侧管廊")
    assert (permit.area.name, permit.location) == ("11#罐区", "11#罐区 东侧管廊")


def test_a_place_not_in_the_tree_is_refused_with_the_nearest_names(plant):
    before = (Permit.select().count(), AuditEvent.select().count())
    with pytest.raises(places.UnknownPlace) as caught:
        draft_at("5#罐区 北侧")
    assert caught.value.message == ("作业地点“5#罐区 北侧”不在本厂区域表中。最接近的是：3#罐区、2#罐区、1#罐区。"
                                    "请以区域名称开头填写，具体部位写在其后，例如“3#罐区 东侧管廊”")
    assert (Permit.select().count(), AuditEvent.select().count()) == before


def test_a_draft_edited_to_a_place_not_in_the_tree_is_refused_at_submit(plant):
    permit = draft_at("1#罐区")
    edit_draft(permit.no, by=permit.applicant, location="东区空地", now=MORNING - timedelta(hours=3))
    with pytest.raises(InvalidPermit, match="作业地点“东区空地”不在本厂区域表中"):
        submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=2))
    assert Permit.get_by_id(permit.id).state == "draft"


def test_a_retired_node_takes_no_new_permits(plant):
    Area.update(active=False).where(Area.name == "11#罐区").execute()
    with pytest.raises(places.UnknownPlace):
        draft_at("11#罐区 东侧管廊")


def test_without_a_tree_places_stay_free_text_and_compare_by_the_whole_name(plant):
    Permit.update(area=None).execute()
    Area.update(active=False).execute()
    permit = draft_at("11#罐区 东侧管廊")
    assert permit.area is None
    assert places.covers("11#罐区 东侧管廊", permit)
    assert not places.covers("1#罐区", permit)
    assert not places.covers("11#罐区", permit)
