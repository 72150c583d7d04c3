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
