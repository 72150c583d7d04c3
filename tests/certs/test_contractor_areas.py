"""A contractor's authorised areas are nodes of the area tree: each covers itself and what lies under it,
and never a place whose name merely contains it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Authorisation, find_person
from models.permit import Permit
from tests.certs.test_contractors import SUBMITTED_AT, contractor  # noqa: F401  (fixture)
from tests.conftest import MORNING
from tests.workflow.test_rules import refused
from workflow import InvalidPermit, create_permit, submit


def hot_work_at(location: str) -> Permit:
    return create_permit("hot_work", applicant=find_person("zhuyan"), location=location,
                         content="DN100 管线法兰焊接", medium="甲烷", attributes={"declared_grade": "一级"},
                         planned_start=MORNING, planned_end=MORNING + timedelta(hours=8),
                         crew=[find_person("konghan")], guardians=[find_person("chuwei")],
                         now=MORNING - timedelta(hours=3))


def test_authorised_for_1_tank_farm_is_not_accepted_at_11_tank_farm(contractor):  # noqa: F811
    Authorisation.update(areas=["1#罐区"]).execute()
    permit = hot_work_at("11#罐区 东侧管廊")
    with refused(InvalidPermit, "孔焊（作业人，承包商）的授权区域（1#罐区）不含作业地点“11#罐区 东侧管廊”", permit):
        submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)


@pytest.mark.parametrize("authorised, location", [("1#罐区", "1#罐区 泵房"), ("储运罐区", "11#罐区 东侧管廊"),
                                                  ("储运罐区", "储运罐区 1#罐区 东侧")],
                         ids=["same-area", "unit-covers-its-areas", "written-as-a-path"])
def test_an_authorised_area_covers_itself_and_its_sub_areas(contractor, authorised, location):  # noqa: F811
    Authorisation.update(areas=[authorised]).execute()
    permit = hot_work_at(location)
    submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
    assert Permit.get_by_id(permit.id).state == "in_approval"


def test_an_area_does_not_cover_the_unit_above_it(contractor):  # noqa: F811
    Authorisation.update(areas=["1#罐区"]).execute()
    permit = hot_work_at("储运罐区 管廊")
    with refused(InvalidPermit, "的授权区域（1#罐区）不含作业地点“储运罐区 管廊”", permit):
        submit(permit.no, by=permit.applicant, now=SUBMITTED_AT)
