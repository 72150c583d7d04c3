"""Faces enrolled from the org workbook: the 人员 sheet's 照片 column and a folder of photos."""
from __future__ import annotations

import pytest

from exports.org_import import OrgImportError, load_org
from exports.samples.build_sample_org import DEPARTMENT_HEADERS, DEPARTMENT_ROWS, PEOPLE_HEADERS, PEOPLE_ROWS
from models import FaceEnrolment, Person, find_person
from tests.exports.conftest import write_sheets
from tests.faces.conftest import FACES


def write_org(path, photos: dict[str, str]):
    """Write the sample org with a 照片 column naming photos by account."""
    people = [row + (photos.get(row[1], ""),) for row in PEOPLE_ROWS]
    return write_sheets(path, {"部门": (DEPARTMENT_HEADERS, DEPARTMENT_ROWS),
                               "人员": (PEOPLE_HEADERS + ("照片",), people)})


def test_the_photos_named_in_the_workbook_are_enrolled(db, instance, photo, tmp_path):
    load_org(write_org(tmp_path / "org.xlsx", {"chuwei": "obama.jpg", "heliang": "biden.jpg"}), photos=FACES)
    enrolled = {e.person.wecom_userid: e for e in FaceEnrolment.select()}
    assert set(enrolled) == {"chuwei", "heliang"}
    assert enrolled["chuwei"].source == "workbook" and enrolled["chuwei"].photo is None


@pytest.mark.parametrize("name, message", [
    ("two_people.jpg", "two_people.jpg：照片中有 2 张人脸，请只拍本人"),
    ("nobody.jpg", "照片文件“nobody.jpg”不在"),
    ("../faces/obama.jpg", "照片文件“../faces/obama.jpg”不在"),
])
def test_a_bad_photo_refuses_the_import_by_row(db, instance, photo, tmp_path, name, message):
    with pytest.raises(OrgImportError) as caught:
        load_org(write_org(tmp_path / "org.xlsx", {"chuwei": name}), photos=FACES)
    (error,) = caught.value.errors
    row = 2 + [r[1] for r in PEOPLE_ROWS].index("chuwei")
    assert (error.sheet, error.row, error.column) == ("人员", row, "照片") and message in error.message
    assert Person.select().count() == 0 and FaceEnrolment.select().count() == 0
    assert find_person("chuwei") is None
