"""`工器具 编号` below the chat: the number found in either case, the state said, an unknown one refused."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from handlers.chat import safety_tools
from models import find_person
from tests.tools.test_loans import DETECTOR, tool
from workflow import NotFound


def test_a_number_is_found_in_either_case_and_an_unknown_one_is_refused(plant):
    with pytest.raises(NotFound, match="本厂尚未登记安全工器具"):
        safety_tools.find("GJ-0001")
    tool("GJ-0001", DETECTOR, date.today() + timedelta(days=30))
    assert safety_tools.find("gj-0001").no == "GJ-0001"
    with pytest.raises(NotFound, match="工器具登记册中没有编号为 GJ-0002 的工器具"):
        safety_tools.find("GJ-0002")


def test_the_state_names_the_due_date_whether_in_test_and_who_holds_it(plant):
    from models import utcnow
    from tools import loans
    lapsed = tool("GJ-0003", DETECTOR, date.today() - timedelta(days=2))
    said = safety_tools.describe(lapsed)
    assert f"检验有效期至 {lapsed.due_on:%Y-%m-%d}，已过期，不得使用；请交保管人 孙立 送检" in said
    assert "领用情况：在库，未领用" in said and "/tools/GJ-0003?k=" in said
    good = tool("GJ-0001", DETECTOR, date.today() + timedelta(days=30))
    loans.check_out("GJ-0001", by=find_person("chenjian"), now=utcnow())
    said = safety_tools.describe(type(good).get_by_id(good.id))
    assert "在检验有效期内" in said and "领用情况：陈检 于 " in said
