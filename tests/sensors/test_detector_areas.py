"""Which permits a fixed detector watches: its node of the area tree and everything under it, never a
place whose name merely contains its area's name."""
from __future__ import annotations

from datetime import timedelta

from models import GasReading, find_person
from models.permit import Permit
from models.sensor import FIXED
from sensors import watch
from tests.conftest import MORNING
from workflow import create_permit, submit


def hot_work_at(location: str) -> Permit:
    permit = create_permit("hot_work", applicant=find_person("zhuyan"), location=location,
                           content="DN100 管线法兰焊接", medium="甲烷", attributes={"declared_grade": "二级"},
                           planned_start=MORNING, planned_end=MORNING + timedelta(hours=8),
                           crew=[find_person("jianghan")], guardians=[find_person("chuwei")],
                           now=MORNING - timedelta(hours=3))
    submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=2))
    return Permit.get_by_id(permit.id)


def test_a_fixed_detector_of_1_tank_farm_does_not_watch_a_permit_at_11_tank_farm(site):
    permit = hot_work_at("11#罐区 东侧管廊")
    site.detector("GD-0201", kind=FIXED, area="1#罐区", gases=["EX"])
    at = MORNING - timedelta(minutes=90)
    site.report("GD-0201", at, EX=0.0)
    assert watch.sensors_of(permit) == []
    assert watch.watched_permits(site_sensor("GD-0201")) == []
    assert GasReading.get(GasReading.device == "GD-0201").permit_id is None
    assert watch.monitoring_problems(permit, at=at) == [
        f"本作业须连续监测：未绑定检测仪，请发送：绑定检测仪 {permit.no} <检测仪编号>"]


def test_a_fixed_detector_watches_its_area_and_the_places_under_it(site):
    at_11 = hot_work_at("11#罐区 东侧管廊")
    at_1 = hot_work_at("1#罐区 泵房")
    site.detector("GD-0202", kind=FIXED, area="储运罐区", gases=["EX"])      # the unit above both
    site.detector("GD-0203", kind=FIXED, area="1#罐区", gases=["EX"])
    assert [s.code for s in watch.sensors_of(at_11)] == ["GD-0202"]
    assert [s.code for s in watch.sensors_of(at_1)] == ["GD-0202", "GD-0203"]
    assert [p.no for p in watch.watched_permits(site_sensor("GD-0203"))] == [at_1.no]


def test_a_detector_below_the_permits_place_does_not_cover_the_whole_place(site):
    unit_wide = hot_work_at("储运罐区 管廊")
    site.detector("GD-0204", kind=FIXED, area="3#罐区", gases=["EX"])
    assert watch.sensors_of(unit_wide) == []


def site_sensor(code: str):
    from models import Sensor
    return Sensor.get(Sensor.code == code)
