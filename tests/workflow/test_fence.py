"""Check-in against the site's coordinates: the fence is the nearest node with coordinates up the tree."""
from __future__ import annotations

import pytest

from handlers.web.board_view import BoardView
from models import Area, CheckIn
from workflow import GateNotMet, check_in, places
from tests.workflow.test_transitions import load, permit_in, who


def test_distance_is_the_great_circle_in_metres():
    assert places.distance_m(30.0, 120.0, 30.0, 120.0) == 0
    # One thousandth of a degree of latitude is about 111 m anywhere.
    assert round(places.distance_m(30.0, 120.0, 30.001, 120.0)) == 111


def test_outside_the_radius_is_refused_and_without_coordinates_nothing_is_checked(plant):
    no, clock = permit_in("in_approval")
    permit = load(no)
    fence = places.fence_of(permit)
    far = {"latitude": fence.latitude + 0.01, "longitude": fence.longitude}
    with pytest.raises(GateNotMet, match=f"您距作业地点“{fence.name}”约 1112 米，超出签到范围 {fence.radius:.0f} 米"):
        check_in(no, by=who("chuwei"), location=far, now=clock.tick())
    assert not CheckIn.select().exists()
    check_in(no, by=who("chuwei"), location={"latitude": fence.latitude, "longitude": fence.longitude},
             now=clock.tick())

    Area.update(latitude=None, longitude=None, radius=None).execute()
    assert places.fence_of(load(no)) is None
    assert BoardView(load(no), clock.now).fence() == "本作业地点未登记坐标和范围：签到不核对手机位置"
    check_in(no, by=who("chuwei"), location=far, now=clock.tick())
    assert CheckIn.select().count() == 2


def test_gcj02_is_turned_back_into_the_gps_position_it_came_from():
    from sandbox.device import to_gcj02
    from workflow.datum import gcj02_to_wgs84, wgs84_to_gcj02
    shifted = wgs84_to_gcj02(30.0, 120.0)
    assert shifted == to_gcj02(30.0, 120.0)
    assert 400 < places.distance_m(30.0, 120.0, *shifted) < 700     # more than any site's radius
    assert places.distance_m(30.0, 120.0, *gcj02_to_wgs84(*shifted)) < 0.01
    assert wgs84_to_gcj02(48.85, 2.35) == (48.85, 2.35)              # outside China: no shift


def test_a_phones_scan_without_a_position_is_refused_at_a_fenced_site(plant):
    from workflow import InvalidPermit
    no, clock = permit_in("in_approval")
    fence = places.fence_of(load(no))
    with pytest.raises(GateNotMet, match=f"未取得手机位置：在“{fence.name}”签到须核对位置"):
        check_in(no, by=who("chuwei"), source="scan", now=clock.tick())
    with pytest.raises(InvalidPermit, match="位置信息的坐标系不对"):
        check_in(no, by=who("chuwei"), source="scan", now=clock.tick(),
                 location={"latitude": fence.latitude, "longitude": fence.longitude, "datum": "bd09"})
    assert not CheckIn.select().exists()
    # The safety office typing in a paper check-in has no phone to ask; it is recorded as theirs.
    check_in(no, by=who("chuwei"), source="cli", now=clock.tick())
    assert CheckIn.get().source == "cli"


def metres_north(fence, metres: float) -> dict:
    """A position due north of the fence's centre (a degree of latitude is 111 195 m)."""
    return {"latitude": fence.latitude + metres / 111_195, "longitude": fence.longitude}


def test_the_radius_itself_is_the_limit(plant):
    no, clock = permit_in("in_approval")
    fence = places.fence_of(load(no))
    with pytest.raises(GateNotMet, match=f"约 {fence.radius + 20:.0f} 米，超出签到范围 {fence.radius:.0f} 米"):
        check_in(no, by=who("chuwei"), location=metres_north(fence, fence.radius + 20), now=clock.tick())
    check_in(no, by=who("chuwei"), location=metres_north(fence, fence.radius - 20), now=clock.tick())
    assert CheckIn.select().count() == 1


def test_a_place_without_coordinates_is_checked_against_the_nearest_one_above_it(plant):
    no, clock = permit_in("in_approval")
    node = places.area_of(load(no))
    assert node is not None and node.parent_id is not None
    Area.update(latitude=None, longitude=None, radius=None).where(Area.id == node.id).execute()
    Area.update(latitude=30.5, longitude=121.0, radius=150).where(Area.id == node.parent_id).execute()
    fence = places.fence_of(load(no))
    assert fence.id == node.parent_id
    with pytest.raises(GateNotMet, match=f"您距作业地点“{fence.name}”约 556 米"):
        check_in(no, by=who("chuwei"), location=metres_north(fence, 556), now=clock.tick())
    assert not CheckIn.select().exists()


def test_a_gcj02_position_at_the_site_is_turned_back_and_taken(plant):
    from workflow.datum import wgs84_to_gcj02
    no, clock = permit_in("in_approval")
    fence = places.fence_of(load(no))
    lat, lng = wgs84_to_gcj02(fence.latitude, fence.longitude)   # as DingTalk's location API answers
    assert places.distance_m(lat, lng, fence.latitude, fence.longitude) > fence.radius
    check_in(no, by=who("chuwei"), source="scan", now=clock.tick(),
             location={"latitude": lat, "longitude": lng, "accuracy": 10, "datum": "gcj02"})
    row = CheckIn.get()
    assert places.distance_m(row.latitude, row.longitude, fence.latitude, fence.longitude) < 1
