"""The one resolver of people by what people call them: account, mobile, name, pinyin, initials."""
import pytest

from models import Department, Person
from models.people import Ambiguous, NotFound, describe, resolve


def test_a_person_is_found_by_account_mobile_name_pinyin_and_initials(plant):
    jiang = Person.get(Person.wecom_userid == "jianghan")
    for token in ("jianghan", "蒋焊", " 蒋 焊 ", "JiangHan", "jh"[:2]):
        assert resolve(token) == jiang, token
    if jiang.mobile:
        assert resolve(jiang.mobile) == jiang


def test_two_people_of_one_name_are_told_apart_by_unit_and_mobile(plant):
    jiang = Person.get(Person.wecom_userid == "jianghan")
    other_unit = Department.create(code="U-X", name="二车间", kind="基层单位")
    twin = Person.create(name="蒋焊", wecom_userid="jianghan2", mobile="13900001234", department=other_unit)
    with pytest.raises(Ambiguous) as found:
        resolve("蒋焊")
    assert set(found.value.candidates) == {jiang, twin}
    assert "蒋焊（二车间，手机尾号 1234）" in found.value.message and describe(twin) in found.value.message
    assert resolve("jianghan2") == twin and resolve("13900001234") == twin
    with pytest.raises(Ambiguous):
        resolve("jh")
    twin.active = False
    twin.save()
    assert resolve("蒋焊") == jiang       # someone who left is nobody's namesake


def test_an_unknown_name_suggests_the_closest_people(plant):
    with pytest.raises(NotFound) as found:
        resolve("蒋汉")
    assert Person.get(Person.wecom_userid == "jianghan") in found.value.candidates
    assert "您要找的是否为：蒋焊" in found.value.message
    with pytest.raises(NotFound) as found:
        resolve("jianghna")
    assert found.value.candidates[0].wecom_userid == "jianghan"
    with pytest.raises(NotFound):
        resolve("")
