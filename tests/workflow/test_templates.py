"""Work-type templates: the shipped ones load; a copy made looser than GB 30871-2022 is refused.

Each case edits the text of a shipped template, writes it to a temporary folder and loads it; the
TemplateError must name the file, the field and the rule it breaks.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from workflow import TemplateError
from workflow.rules import STATUTES
from workflow.template import TEMPLATE_DIR, load_all, load_file


def variant(tmp_path: Path, code: str, *edits: tuple[str, str], name: str | None = None) -> Path:
    """Write a copy of the shipped template `code` with each (old, new) edit applied once."""
    text = (TEMPLATE_DIR / f"{code}.toml").read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) >= 1, f"{old!r} is not in {code}.toml"
        text = text.replace(old, new, 1)
    path = tmp_path / (name or f"{code}.toml")
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, *fragments: str) -> str:
    """Load path, expect a TemplateError naming the file and every fragment; return the message."""
    with pytest.raises(TemplateError) as caught:
        load_file(path)
    message = str(caught.value)
    for fragment in (f"{path.name}: ",) + fragments:
        assert fragment in message, message
    return message


def test_the_shipped_templates_all_load():
    templates = load_all(TEMPLATE_DIR)
    assert set(templates) == set(STATUTES)


def test_an_unchanged_copy_loads(tmp_path):
    assert load_file(variant(tmp_path, "hot_work")).code == "hot_work"


# --- validity ---

@pytest.mark.parametrize("code, old, new, fragments", [
    ("hot_work", '"一级" = 8', '"一级" = 12', ("validity_hours.一级 = 12", "第5章", "一级作业票有效期不超过 8 小时")),
    ("hot_work", '"特级" = 8', '"特级" = 9', ("validity_hours.特级 = 9", "不超过 8 小时")),
    ("hot_work", '"二级" = 72', '"二级" = 73', ("validity_hours.二级 = 73", "不超过 72 小时")),
    ("confined_space", "default = 24", "default = 25", ("validity_hours.default = 25", "第6章", "不超过 24 小时")),
    ("height", '"Ⅳ" = 168', '"Ⅳ" = 169', ("validity_hours.Ⅳ = 169", "第8章", "不超过 168 小时")),
    ("temp_power", "default = 360", "default = 361", ("validity_hours.default = 361", "第10章", "不超过 360 小时")),
    ("temp_power", "validity_special_hours = 720", "validity_special_hours = 721",
     ("validity_special_hours = 721", "特殊情况不超过30天")),
], ids=["hot-1", "hot-special", "hot-2", "confined", "height-IV", "temp-power", "temp-power-special"])
def test_a_longer_validity_is_refused(tmp_path, code, old, new, fragments):
    refused(variant(tmp_path, code, (old, new)), *fragments)


def test_a_shorter_validity_loads(tmp_path):
    template = load_file(variant(tmp_path, "hot_work", ('"一级" = 8', '"一级" = 4')))
    assert template.validity_hours["一级"] == 4


# --- approvers ---

def test_special_grade_hot_work_without_the_plant_leader_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work", ('role = "主管领导"', 'role = "专业部门负责人"'))
    refused(path, "approval chain for 特级", "lacks 主管领导", "特级由主管领导审批")


def test_height_grade_four_without_the_plant_leader_is_refused(tmp_path):
    path = variant(tmp_path, "height", ('grades = ["Ⅳ"]', 'grades = ["Ⅲ"]'))
    refused(path, "approval chain for Ⅳ", "lacks 主管领导", "第8章")


def test_a_higher_ranked_approver_than_the_statute_loads(tmp_path):
    # The plant has its 二级 hot work approved by the safety department too: stricter, so allowed.
    path = variant(tmp_path, "hot_work", ('grades = ["特级", "一级"]', 'grades = ["特级", "一级", "二级"]'))
    assert load_file(path).step("approve_safety").applies_to("二级")


COUNTERSIGN_AS_ANY = ('mode = "all"\nscope = "plant"', 'mode = "any"\nscope = "plant"')


def test_excavation_without_a_countersign_is_refused(tmp_path):
    path = variant(tmp_path, "excavation", COUNTERSIGN_AS_ANY)
    refused(path, "needs a 会签", "第11章", "相关部门会签")


def test_road_closure_without_a_countersign_is_refused(tmp_path):
    path = variant(tmp_path, "road_closure", COUNTERSIGN_AS_ANY)
    refused(path, "needs a 会签", "第12章")


def test_an_unknown_role_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ('role = "计划员"', 'role = "焊工"')),
            "steps.plan.role: unknown role '焊工'")


def test_a_step_with_no_way_out_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work",
                   ('actions = ["approve", "reject", "return"]', 'actions = ["reject"]'))
    refused(path, "steps.approve_unit", "no way out", "neither approve nor confirm")


# --- on-site approval ---

def test_an_approval_off_site_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work", ("onsite = true", "onsite = false"))
    refused(path, "steps.approve_unit.onsite = false with no onsite_waiver", "4.11", "审批人应在作业现场审批")


def test_an_approval_off_site_with_a_stated_waiver_loads(tmp_path):
    waiver = 'onsite = false\nonsite_waiver = "夜间抢修由值班长视频连线确认，次日补签"'
    template = load_file(variant(tmp_path, "hot_work", ("onsite = true", waiver)))
    assert not template.step("approve_unit").onsite


# --- grading ---

def test_height_grade_four_starting_at_40_metres_is_refused(tmp_path):
    path = variant(tmp_path, "height", ('{ grade = "Ⅲ", max = 30.0 }', '{ grade = "Ⅲ", max = 40.0 }'))
    refused(path, "grading.bands: 30.01 graded Ⅲ", "第8章", "(Ⅳ)")


def test_height_starting_at_3_metres_is_refused(tmp_path):
    refused(variant(tmp_path, "height", ("min = 2.0", "min = 3.0")), "grading.min = 3.0", "≥ 2 即适用")


def test_lifting_grade_one_above_150_tonnes_is_refused(tmp_path):
    path = variant(tmp_path, "lifting", ('{ grade = "二级", max = 100.0 }', '{ grade = "二级", max = 150.0 }'))
    refused(path, "grading.bands: 100.01 graded 二级", "第9章", "(一级)")


def test_hot_work_that_is_not_raised_at_night_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work",
                   ('raise_on = ["night", "holiday", "wind"]', 'raise_on = ["holiday", "wind"]'))
    refused(path, "grading.raise_on lacks ['night']", "升级管理")


def test_hot_work_raised_only_from_wind_force_6_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ("wind_force = 5", "wind_force = 6")),
            "grading.wind_force = 6", "风力 ≥ 5 级升级")


# --- gas ---

def test_a_gas_test_valid_for_45_minutes_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ("fresh_minutes = 30", "fresh_minutes = 45")),
            "gas.fresh_minutes = 45", "作业前 30 分钟内取样分析")


def test_a_grade_one_retest_after_40_minutes_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ('"一级" = 30, "二级"', '"一级" = 40, "二级"')),
            "gas.retest_minutes.一级 = 40", "中断超过 30 分钟须重新分析")


def test_confined_space_without_the_oxygen_range_is_refused(tmp_path):
    refused(variant(tmp_path, "confined_space", ("oxygen_range = true", "oxygen_range = false")),
            "gas.oxygen_range = false", "第6章", "氧含量 19.5%–21%")


def test_a_looser_combustible_gas_limit_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work", ('continuous = ["特级"]',
                                          'continuous = ["特级"]\nlimits = { ex_vol_high_lel = 0.8 }'))
    refused(path, "gas.limits.ex_vol_high_lel = 0.8 is looser than GB 30871-2022", "LEL≥4% 时 ≤ 0.5 %vol")


def test_a_stricter_combustible_gas_limit_loads(tmp_path):
    path = variant(tmp_path, "hot_work", ('continuous = ["特级"]',
                                          'continuous = ["特级"]\nlimits = { ex_vol_high_lel = 0.3 }'))
    assert load_file(path).gas.limits == {"ex_vol_high_lel": 0.3}


def test_a_looser_other_toxic_gas_limit_is_refused_and_a_tighter_one_loads(tmp_path):
    loose = variant(tmp_path, "confined_space", ('continuous = ["default"]',
                                                 'continuous = ["default"]\nlimits = { nh3 = 40 }'))
    refused(loose, "gas.limits.nh3 = 40 is looser than GB 30871-2022", "氨 < 30 mg/m³，GBZ 2.1 PC-STEL")
    (tmp_path / "confined_space.toml").unlink()
    tight = variant(tmp_path, "confined_space", ('continuous = ["default"]',
                                                 'continuous = ["default"]\nlimits = { nh3 = 15, hcn = 0.5 }'))
    assert load_file(tight).gas.limits == {"nh3": 15, "hcn": 0.5}


def test_special_grade_hot_work_without_continuous_monitoring_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ('continuous = ["特级"]', "continuous = []")),
            "gas.continuous lacks ['特级']", "连续监测")


# --- the guardian ---

def test_no_guardian_is_refused(tmp_path):
    refused(variant(tmp_path, "hot_work", ("[guardians]\nmin = 1", "[guardians]\nmin = 0")),
            "guardians.min = 0", "监护人至少 1 名")


# --- a plant's own work type ---

def test_a_plant_own_work_type_loads_under_the_general_rules(tmp_path):
    own = (('code = "hot_work"', 'code = "grinding"'), ('name = "动火作业"', 'name = "打磨作业"'),
           ('prefix = "DH"', 'prefix = "DM"'), ('"一级" = 8', '"一级" = 12'))
    template = load_file(variant(tmp_path, "hot_work", *own, name="grinding.toml"))
    assert (template.code, template.validity_hours["一级"]) == ("grinding", 12)
    off_site = variant(tmp_path, "hot_work", *own, ("onsite = true", "onsite = false"), name="grinding.toml")
    refused(off_site, "steps.approve_unit.onsite = false with no onsite_waiver")


# --- who must be on site (issue #8) ---

START_CHECKINS = 'checkins = ["监护人", "作业负责人"]'


def test_every_shipped_start_needs_the_guardian_and_the_work_leader_on_site():
    for template in load_all(TEMPLATE_DIR).values():
        (start,) = [s for s in template.steps if s.phase == "start"]
        assert start.gates.checkins == ("监护人", "作业负责人"), template.code


def test_a_start_that_does_not_need_the_guardian_on_site_is_refused(tmp_path):
    path = variant(tmp_path, "height", (START_CHECKINS, 'checkins = ["作业负责人"]'))
    refused(path, "steps.start.gates.checkins: must include 监护人", "4.10")


def test_a_check_in_rule_naming_an_unknown_role_is_refused(tmp_path):
    path = variant(tmp_path, "height", (START_CHECKINS, 'checkins = ["监护人", "焊工"]'))
    refused(path, "steps.start.gates.checkins: '焊工' is not one of 监护人, 作业负责人, 作业人")


def test_a_check_in_validity_of_0_minutes_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work", ("checkin_minutes = 30", "checkin_minutes = 0"))
    refused(path, "checkin_minutes = 0: must be at least 1")


@pytest.mark.parametrize("code", ["hot_work", "confined_space", "height"])
@pytest.mark.parametrize("minutes", [31, 45, 121])
def test_a_check_in_window_looser_than_the_statutory_30_minutes_is_refused(tmp_path, code, minutes):
    path = variant(tmp_path, code, ("checkin_minutes = 30", f"checkin_minutes = {minutes}"))
    refused(path, f"checkin_minutes = {minutes}: looser than GB 30871-2022 4.11", "30 分钟内有效")


def test_a_tighter_check_in_window_loads(tmp_path):
    path = variant(tmp_path, "hot_work", ("checkin_minutes = 30", "checkin_minutes = 20"))
    assert load_file(path).checkin_minutes == 20


def test_a_waiver_on_a_step_that_stays_on_site_is_refused(tmp_path):
    path = variant(tmp_path, "hot_work", ("onsite = true", 'onsite = true\nonsite_waiver = "视频连线"'))
    refused(path, "steps.approve_unit.onsite_waiver: given while onsite = true")
