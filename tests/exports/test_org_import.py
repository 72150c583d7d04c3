"""The org workbook import: the sample plant, re-imports, and every kind of bad row."""
from __future__ import annotations

import pytest

from exports.org_import import ImportReport, OrgImportError, RowError, format_report, load_org
from exports.samples.build_sample_org import (DEPARTMENT_HEADERS, DEPARTMENT_ROWS, OUT,
                                              PEOPLE_HEADERS, PEOPLE_ROWS, build)
from models import Department, Person, PersonRole
from tests.exports.conftest import assert_committed_sample_is_fresh, assert_refused, write_sheets

ACCOUNTS = "企业微信账号、钉钉账号、手机"


def write_book(path, *, departments=DEPARTMENT_ROWS, people=PEOPLE_ROWS,
               department_headers=DEPARTMENT_HEADERS, people_headers=PEOPLE_HEADERS,
               sheets=("部门", "人员")):
    """Write an org workbook with the given rows (the sample plant by default) and return its path."""
    content = {"部门": (department_headers, departments), "人员": (people_headers, people)}
    return write_sheets(path, {title: content[title] for title in sheets})


def person_row(name, **changes):
    """Return the sample row of the person called name, with columns replaced by header."""
    row = list(next(r for r in PEOPLE_ROWS if r[0] == name))
    for header, value in changes.items():
        row[PEOPLE_HEADERS.index(header)] = value
    return row


def without(name):
    return [r for r in PEOPLE_ROWS if r[0] != name]


def replace(name, **changes):
    return [person_row(name, **changes) if r[0] == name else r for r in PEOPLE_ROWS]


def snapshot():
    """Return everything the import may touch, to compare before and after."""
    departments = [(d.code, d.name, d.kind, d.parent_id) for d in Department.select().order_by(Department.id)]
    people = [(p.id, p.name, p.wecom_userid, p.dingtalk_userid, p.mobile, p.department_id, p.active)
              for p in Person.select().order_by(Person.id)]
    roles = sorted((r.person_id, r.role) for r in PersonRole.select())
    return departments, people, roles


def roles_of(name):
    return Person.get(Person.name == name).role_names()


def test_sample_loads(db):
    report = load_org(OUT)

    assert report == ImportReport(7, 0, 23, 0, 0)
    assert format_report(report) == ("部门：新增 7，更新 0；人员：新增 23，更新 0，停用 0；"
                                      "区域：新增 18，更新 0，停用 0；证书：新增 24，更新 0，注销 0")
    tree = {d.code: (d.parent.code if d.parent else None, d.kind) for d in Department.select()}
    assert tree == {"PLANT": (None, "厂领导"), "SAFE": ("PLANT", "安全管理部门"),
                    "PROD": ("PLANT", "专业部门"), "EQUIP": ("PLANT", "专业部门"),
                    "U1": ("PROD", "基层单位"), "U2": ("PROD", "基层单位"), "ELEC": ("EQUIP", "基层单位")}
    assert [d.code for d in Department.get(code="U1").ancestors()] == ["U1", "PROD", "PLANT"]
    assert roles_of("卫东") == {"监护人", "作业人"}
    assert roles_of("秦川") == {"基层单位负责人", "计划员", "作业评估人", "交底人", "验收人"}
    hanxue = Person.get(Person.name == "韩雪")
    assert (hanxue.wecom_userid, hanxue.dingtalk_userid, hanxue.mobile) == (None, "dt_hanxue", "13800000017")
    assert Person.get(Person.wecom_userid == "luodian").department.code == "ELEC"
    assert Person.select().where(Person.active == True).count() == 23  # noqa: E712


def test_committed_sample_matches_its_builder(tmp_path):
    committed = assert_committed_sample_is_fresh(build, OUT, tmp_path)
    assert committed["人员"].freeze_panes == "A2"
    assert committed["人员"]["A1"].font.bold


def test_reimport_updates_in_place(db):
    load_org(OUT)
    before = snapshot()

    report = load_org(OUT)

    assert report == ImportReport(0, 7, 0, 23, 0)
    assert snapshot() == before


def test_modified_file_changes_roles_and_deactivates_the_missing(db, tmp_path):
    load_org(OUT)
    jianghan = Person.get(Person.wecom_userid == "jianghan")
    people = [r for r in replace("卫东", 角色="作业人") if r[0] != "蒋焊"]

    report = load_org(write_book(tmp_path / "v2.xlsx", people=people))

    assert report == ImportReport(0, 7, 0, 22, 1)
    assert roles_of("卫东") == {"作业人"}
    assert Person.get_by_id(jianghan.id).active is False
    assert Person.get_by_id(jianghan.id).role_names() == {"作业人"}  # history stays as it was

    report = load_org(OUT)

    assert report == ImportReport(0, 7, 0, 23, 0)
    assert Person.get_by_id(jianghan.id).active is True
    assert roles_of("卫东") == {"监护人", "作业人"}
    assert Person.select().count() == 23


def test_person_matched_by_dingtalk_then_mobile(db, tmp_path):
    load_org(OUT)
    hanxue, chuwei = Person.get(Person.name == "韩雪"), Person.get(Person.name == "褚卫")
    people = replace("韩雪", 企业微信账号="hanxue")
    people = [person_row("褚卫", 企业微信账号="", 姓名="褚卫国") if r[0] == "褚卫" else r for r in people]

    report = load_org(write_book(tmp_path / "v2.xlsx", people=people))

    assert report == ImportReport(0, 7, 0, 23, 0)
    assert Person.get_by_id(hanxue.id).wecom_userid == "hanxue"
    chuwei = Person.get_by_id(chuwei.id)
    assert (chuwei.name, chuwei.wecom_userid, chuwei.mobile) == ("褚卫国", None, "13800000013")


def test_numeric_mobile_cell(db, tmp_path):
    people = replace("孙立", 手机=13800000003.0)
    people = [person_row("吕明", 手机=13800000004) if r[0] == "吕明" else r for r in people]

    load_org(write_book(tmp_path / "numbers.xlsx", people=people))

    assert Person.get(Person.name == "孙立").mobile == "13800000003"
    assert Person.get(Person.name == "吕明").mobile == "13800000004"


def test_headers_in_another_order_with_extra_columns_and_blank_rows(db, tmp_path):
    order = [5, 4, 3, 2, 1, 0]
    headers = ["备注"] + [PEOPLE_HEADERS[i] for i in order]
    people = [["随便写"] + [r[i] for i in order] for r in PEOPLE_ROWS]
    people.insert(3, [None] * 7)
    # Reversed rows put every child before its parent.
    departments = [list(reversed(r)) for r in reversed(DEPARTMENT_ROWS)]

    path = write_book(tmp_path / "shuffled.xlsx", people=people, people_headers=headers,
                      departments=departments, department_headers=list(reversed(DEPARTMENT_HEADERS)))

    report = load_org(path)

    assert report == ImportReport(7, 0, 23, 0, 0)
    assert roles_of("秦川") == {"基层单位负责人", "计划员", "作业评估人", "交底人", "验收人"}
    assert Department.get(code="U1").parent.code == "PROD"


def test_parent_may_already_be_in_the_database(db, tmp_path):
    load_org(OUT)
    departments = DEPARTMENT_ROWS[1:] + (("U3", "焦化车间", "PROD", "基层单位"),)
    people = PEOPLE_ROWS + (("马新", "maxin", "", "13800000024", "U3", "作业人"),)

    report = load_org(write_book(tmp_path / "v2.xlsx", departments=departments, people=people))

    assert report == ImportReport(1, 6, 1, 23, 0)
    assert Department.get(code="SAFE").parent.code == "PLANT"
    assert Person.get(Person.wecom_userid == "maxin").department.code == "U3"


def _people_row(name):
    """Return the workbook row number of a sample person."""
    return [r[0] for r in PEOPLE_ROWS].index(name) + 2


def _department_row(code):
    return [r[0] for r in DEPARTMENT_ROWS].index(code) + 2


NEW_PERSON_ROW = len(PEOPLE_ROWS) + 2
NEW_DEPARTMENT_ROW = len(DEPARTMENT_ROWS) + 2

BAD_BOOKS = {
    "missing sheet": (dict(sheets=("部门",)), ("人员", None, None), "缺少工作表“人员”"),
    "missing header": (dict(people_headers=PEOPLE_HEADERS[:5] + ("职务",)), ("人员", 1, "角色"),
                       "缺少表头“角色”"),
    "missing name": (dict(people=replace("孙立", 姓名="")), ("人员", _people_row("孙立"), "姓名"), "不能为空"),
    "missing department code": (dict(departments=DEPARTMENT_ROWS + (("", "焦化车间", "PROD", "基层单位"),)),
                                ("部门", NEW_DEPARTMENT_ROW, "部门编码"), "不能为空"),
    "missing department name": (dict(departments=DEPARTMENT_ROWS + (("U3", "", "PROD", "基层单位"),)),
                                ("部门", NEW_DEPARTMENT_ROW, "部门名称"), "不能为空"),
    "duplicate department code": (dict(departments=DEPARTMENT_ROWS + (("U1", "焦化车间", "PROD", "基层单位"),)),
                                  ("部门", NEW_DEPARTMENT_ROW, "部门编码"), "与第6行重复"),
    "unknown parent": (dict(departments=DEPARTMENT_ROWS + (("U3", "焦化车间", "PRD", "基层单位"),)),
                       ("部门", NEW_DEPARTMENT_ROW, "上级部门编码"), "未知部门编码“PRD”"),
    "unknown person department": (dict(people=replace("孙立", 部门编码="SAFETY")),
                                  ("人员", _people_row("孙立"), "部门编码"), "未知部门编码“SAFETY”"),
    "unknown type": (dict(departments=DEPARTMENT_ROWS + (("U3", "焦化车间", "PROD", "车间"),)),
                     ("部门", NEW_DEPARTMENT_ROW, "类型"), "未知类型“车间”，可选：基层单位、专业部门"),
    "unknown role": (dict(people=replace("蒋焊", 角色="作业人，焊工")), ("人员", _people_row("蒋焊"), "角色"),
                     "未知角色“焊工”，可选：计划员、作业评估人"),
    "no account": (dict(people=replace("沈力", 企业微信账号="", 手机=None)), ("人员", _people_row("沈力"), ACCOUNTS),
                   "至少填写一项"),
    "wecom twice": (dict(people=PEOPLE_ROWS + (("马新", "shenli", "", "13800000024", "U1", "作业人"),)),
                    ("人员", NEW_PERSON_ROW, "企业微信账号"), f"“shenli”与第{_people_row('沈力')}行重复"),
    "dingtalk twice": (dict(people=PEOPLE_ROWS + (("马新", "maxin", "dt_hanxue", "", "U1", "作业人"),)),
                       ("人员", NEW_PERSON_ROW, "钉钉账号"), f"“dt_hanxue”与第{_people_row('韩雪')}行重复"),
    "mobile twice": (dict(people=PEOPLE_ROWS + (("马新", "maxin", "", 13800000016, "U1", "作业人"),)),
                     ("人员", NEW_PERSON_ROW, "手机"), f"“13800000016”与第{_people_row('沈力')}行重复"),
    "parent cycle": (dict(departments=DEPARTMENT_ROWS + (("A", "甲", "B", "基层单位"), ("B", "乙", "A", "基层单位"))),
                     ("部门", NEW_DEPARTMENT_ROW, "上级部门编码"), "上级部门形成循环：A → B → A"),
    "own parent": (dict(departments=DEPARTMENT_ROWS + (("A", "甲", "A", "基层单位"),)),
                   ("部门", NEW_DEPARTMENT_ROW, "上级部门编码"), "上级部门形成循环：A → A"),
    "too long": (dict(people=replace("孙立", 姓名="孙" * 51)), ("人员", _people_row("孙立"), "姓名"), "内容过长"),
    "no people": (dict(people=()), ("人员", None, None), "没有任何人员"),
}


@pytest.mark.parametrize("case", BAD_BOOKS, ids=list(BAD_BOOKS))
def test_bad_book_names_the_cell_and_changes_nothing(db, tmp_path, case):
    load_org(OUT)
    changes, where, message = BAD_BOOKS[case]
    path = write_book(tmp_path / "bad.xlsx", **changes)

    assert_refused(load_org, path, OrgImportError, where=where, message=message, snapshot=snapshot)


def test_bad_book_changes_nothing_in_an_empty_database(db, tmp_path):
    with pytest.raises(OrgImportError):
        load_org(write_book(tmp_path / "bad.xlsx", people=replace("蒋焊", 角色="焊工")))

    assert (Department.select().count(), Person.select().count(), PersonRole.select().count()) == (0, 0, 0)


def test_account_of_another_person_in_the_database(db, tmp_path):
    load_org(OUT)
    before = snapshot()
    # dt_wuhai moves from 吴海 to 蒋焊: two people would hold it until both rows were saved.
    people = [person_row("吴海", 钉钉账号="") if r[0] == "吴海" else r for r in replace("蒋焊", 钉钉账号="dt_wuhai")]

    with pytest.raises(OrgImportError) as caught:
        load_org(write_book(tmp_path / "bad.xlsx", people=people))

    assert caught.value.errors == (
        RowError("人员", _people_row("蒋焊"), "钉钉账号", "“dt_wuhai”已属于系统中的另一人：吴海(wuhai)"),)
    assert snapshot() == before


def test_two_rows_for_one_person_in_the_database(db, tmp_path):
    load_org(OUT)
    before = snapshot()
    people = replace("蒋焊", 手机="13900000015") + [("蒋焊二", "", "", "13800000015", "U1", "作业人")]

    with pytest.raises(OrgImportError) as caught:
        load_org(write_book(tmp_path / "bad.xlsx", people=people))

    assert [str(e) for e in caught.value.errors] == [
        f"人员 第{NEW_PERSON_ROW}行 手机: 与第{_people_row('蒋焊')}行对应系统中的同一人：蒋焊(jianghan)"]
    assert snapshot() == before


def test_every_error_is_reported_together(db, tmp_path):
    people = replace("蒋焊", 角色="焊工")
    people = [person_row("孙立", 部门编码="NOPE") if r[0] == "孙立" else r for r in people]
    departments = DEPARTMENT_ROWS + (("U3", "焦化车间", "PROD", "车间"),)

    with pytest.raises(OrgImportError) as caught:
        load_org(write_book(tmp_path / "bad.xlsx", people=people, departments=departments))

    assert [(e.sheet, e.row, e.column) for e in caught.value.errors] == [
        ("部门", NEW_DEPARTMENT_ROW, "类型"), ("人员", _people_row("孙立"), "部门编码"),
        ("人员", _people_row("蒋焊"), "角色")]
    assert str(caught.value.errors[2]) == (
        f"人员 第{_people_row('蒋焊')}行 角色: 未知角色“焊工”，可选：计划员、作业评估人、交底人、气体检测人、"
        "监护人、作业人、基层单位负责人、专业部门负责人、安全管理部门负责人、主管领导、配送电单位负责人、验收人、安全员、系统管理员、应急救援人员")
    assert str(caught.value).startswith("组织架构表有 3 处错误，未导入任何内容：\n部门 第9行 类型: ")


def test_missing_sheets_and_headers_are_reported_together(db, tmp_path):
    path = write_book(tmp_path / "bad.xlsx", department_headers=("部门编码", "名称", "上级部门编码", "类型"),
                      sheets=("部门",))

    with pytest.raises(OrgImportError) as caught:
        load_org(path)

    assert [str(e) for e in caught.value.errors] == ["部门 第1行 部门名称: 缺少表头“部门名称”",
                                                   "人员: 缺少工作表“人员”（现有：部门）"]


def test_not_a_workbook(db, tmp_path):
    path = tmp_path / "org.xlsx"
    path.write_text("姓名,手机\n", encoding="utf-8")

    with pytest.raises(OrgImportError) as caught:
        load_org(path)

    assert str(caught.value.errors[0]) == "工作簿: 无法读取“org.xlsx”：不是有效的 .xlsx 文件"


def test_blank_rows_are_skipped_but_counted(db, tmp_path):
    people = list(PEOPLE_ROWS[:2]) + [(None,) * 6, ("", "", "", "", "", "")] + [("马新", "", "", "", "U1", "")]

    with pytest.raises(OrgImportError) as caught:
        load_org(write_book(tmp_path / "blank.xlsx", people=people))

    assert [str(e) for e in caught.value.errors] == ["人员 第6行 企业微信账号、钉钉账号、手机: 至少填写一项"]
