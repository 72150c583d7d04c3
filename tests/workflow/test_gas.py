"""Gas analysis: %LEL → %vol by medium, GB 30871-2022 pass limits, template limits, chat parsing."""
import json
import math
import tomllib

import pytest

from workflow import gas
from workflow.gas import STATUTORY, GasLimits, UnknownMedium, evaluate, lel_of, limits_from, \
    GAS_LABELS, looser_fields, others, others_text, parse_values


def ex(reading: float, medium: str | None, **kw) -> gas.GasItem:
    """Judge one combustible reading and return its item."""
    (item,) = evaluate({"EX": reading}, medium=medium, **kw).items
    return item


# --- combustible gas: the limit depends on the medium's LEL ---

def test_lel_at_least_4_allows_half_percent_vol():
    assert ex(10, "甲烷").passed                   # 5.0 × 10 % = 0.50 %vol
    item = ex(10.2, "甲烷")                          # 0.51 %vol
    assert not item.passed
    assert item.vol == pytest.approx(0.51)
    assert "≤ 0.50 %vol" in item.limit and "10.0 %LEL" in item.limit and "甲烷 LEL 5.0%" in item.limit


def test_lel_exactly_4_takes_the_high_lel_limit():
    assert ex(12.5, "氢气").passed                  # 4.0 × 12.5 % = 0.50 %vol
    assert not ex(12.6, "氢气").passed


def test_lel_below_4_allows_only_point_two_percent_vol():
    assert ex(9.5, "丙烷").passed                   # 2.1 × 9.5 % ≈ 0.20 %vol
    assert not ex(10, "丙烷").passed                # 0.21 %vol
    assert ex(10, "甲烷").passed                    # the same detector reading is fine for methane


def test_medium_without_lel_split_uses_stricter_limit_on_worst_case_lel():
    item = ex(1.3, None)                             # highest LEL in media.toml (氨 15 %): 0.195 %vol
    assert item.passed and "介质未指定" in item.limit and "≤ 0.20 %vol" in item.limit
    assert not ex(1.4, None).passed                 # 0.21 %vol for ammonia, although methane would pass
    assert not ex(5, " ").passed                    # a blank medium is no medium


def test_ex_text_shows_conversion_and_limit():
    text = ex(12, "甲烷").text()
    assert text.startswith("可燃气体 12.0 %LEL（折 0.60 %vol）不合格，限值 ≤ 0.50 %vol")


# --- media table ---

def test_aliases_resolve_to_the_registered_medium():
    assert lel_of("CH4") == lel_of(" 天然气 ") == lel_of("甲烷") == 5.0
    assert lel_of("lpg") == lel_of("液化石油气") == 1.5
    assert lel_of("H2") == 4.0
    assert "甲烷 LEL 5.0%" in ex(1, "CH4").limit


def test_unknown_medium_raises_and_names_the_file():
    with pytest.raises(UnknownMedium, match="氦气") as err:
        lel_of("氦气")
    assert "workflow/media.toml" in str(err.value)
    with pytest.raises(UnknownMedium):
        evaluate({"EX": 0}, medium="氦气")


def test_media_file_values_and_aliases_are_consistent():
    data = tomllib.loads(gas.MEDIA_FILE.read_text(encoding="utf-8"))
    assert all(0 < v < 100 for v in data["lel_vol"].values())
    assert set(data["aliases"].values()) <= set(data["lel_vol"])
    for name, value in {"甲烷": 5.0, "丙烷": 2.1, "柴油": 0.6, "一氧化碳": 12.5, "氨": 15.0}.items():
        assert lel_of(name) == value


# --- oxygen ---

def test_oxygen_range_in_confined_space():
    def o2(v):
        return evaluate({"O2": v}, medium=None, oxygen_range=True).passed
    assert [o2(19.4), o2(19.5), o2(21.0), o2(21.1)] == [False, True, True, False]


def test_oxygen_outside_confined_space_only_has_a_ceiling():
    def o2(v):
        return evaluate({"O2": v}, medium=None).passed
    assert o2(22) and o2(18) and o2(23.5)
    assert not o2(23.6)


def test_oxygen_text():
    verdict = evaluate({"o2": 20.9}, medium=None, oxygen_range=True)
    assert verdict.items[0].text() == "氧气 20.9 %vol 合格"
    assert evaluate({"O2": 17}, medium=None, oxygen_range=True).items[0].limit == "19.5–21.0 %vol"


# --- toxic gases: strictly below the exposure limit ---

def test_h2s_must_be_below_mac():
    assert evaluate({"H2S": 9.9}, medium=None).passed
    verdict = evaluate({"H2S": 10}, medium=None)
    assert not verdict.passed and verdict.items[0].limit == "< 10 mg/m³"


def test_co_must_be_below_pc_twa():
    assert evaluate({"CO": 19.9}, medium=None).passed
    assert not evaluate({"CO": 20}, medium=None).passed


# --- the verdict as a whole ---

def test_missing_required_gas_fails_and_is_named():
    verdict = evaluate({"O2": 20.9, "EX": 0}, medium="甲烷", required=("O2", "EX", "h2s"))
    assert not verdict.passed
    assert verdict.missing == ("H2S",)
    assert "缺少 硫化氢" in verdict.text()
    assert evaluate({"O2": 20.9, "EX": 0, "H2S": 0}, medium="甲烷", required=("O2", "EX", "H2S")).passed


def test_one_failing_item_fails_the_verdict():
    verdict = evaluate({"O2": 20.9, "EX": 12, "H2S": 0, "CO": 0}, medium="甲烷")
    assert not verdict.passed
    assert [i.gas for i in verdict.items] == ["O2", "EX", "H2S", "CO"]
    assert [i.passed for i in verdict.items] == [True, False, True, True]
    assert verdict.text().startswith("不合格：氧气 20.9 %vol 合格；可燃气体 12.0 %LEL")


def test_no_readings_is_not_a_pass():
    assert not evaluate({}, medium=None).passed


def test_as_dict_is_json_serialisable():
    verdict = evaluate({"O2": 20.9, "EX": 0.1}, medium="CH4", required=("CO",))
    data = json.loads(json.dumps(verdict.as_dict(), ensure_ascii=False))
    assert data["passed"] is False and data["missing"] == ["CO"]
    assert data["items"][1] == {"gas": "EX", "value": 0.1, "unit": "%LEL", "passed": True,
                                "limit": verdict.items[1].limit, "vol": 0.005}


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "20.9", None])
def test_invalid_reading_raises(bad):
    with pytest.raises(ValueError, match="氧气读数"):
        evaluate({"O2": bad}, medium=None)


def test_unknown_gas_code_raises_and_names_it():
    with pytest.raises(ValueError, match="HCHO"):
        evaluate({"HCHO": 1}, medium=None)
    with pytest.raises(ValueError, match="XE"):
        evaluate({"O2": 20.9}, medium=None, required=("XE",))


# --- the other gases of the table ---

@pytest.mark.parametrize("gas, under, at", [("NH3", 29.9, 30.0), ("CL2", 0.9, 1.0), ("SO2", 9.9, 10.0),
                                            ("NO2", 9.9, 10.0), ("HCN", 0.9, 1.0), ("C6H6", 9.9, 10.0)])
def test_a_toxic_gas_passes_only_below_its_gbz_limit_from_the_table(gas, under, at):
    assert evaluate({"O2": 20.9, gas: under}, medium=None).passed
    failed = evaluate({"O2": 20.9, gas: at}, medium=None)
    assert not failed.passed
    assert f"{GAS_LABELS[gas]} {at:.1f} mg/m³ 不合格，限值 < {at:g} mg/m³" in failed.text()


def test_a_hydrogen_detector_s_lel_reading_is_converted_by_hydrogen_s_own_lel():
    # H2 LEL 4 %vol ≥ 4: the 0.5 %vol limit, which is 12.5 %LEL of hydrogen, whatever the permit's medium.
    assert evaluate({"H2": 12.5}, medium="汽油").passed
    failed = evaluate({"H2": 13.0}, medium="汽油")
    assert not failed.passed and "氢气 13.0 %LEL（折 0.52 %vol）不合格" in failed.text()


def test_a_template_may_require_another_gas_and_its_absence_fails():
    verdict = evaluate({"O2": 20.9}, medium=None, required=("NH3",))
    assert not verdict.passed and verdict.missing == ("NH3",) and "缺少 氨" in verdict.text()


def test_chat_readings_take_any_gas_of_the_table():
    assert parse_values("O2=20.9 NH3=5 cl2=0.5 C6H6=1") == {"O2": 20.9, "NH3": 5.0, "CL2": 0.5, "C6H6": 1.0}
    with pytest.raises(ValueError, match="未知的气体代号「HCHO」"):
        parse_values("O2=20.9 HCHO=1")


def test_the_other_gases_are_shown_with_chinese_labels_and_units():
    assert others({"O2": 20.9, "CO": 1.0}) is None
    assert others({"O2": 20.9, "NH3": 5.0}) == {"NH3": 5.0}
    assert others_text({"C6H6": 1.0, "NH3": 5.0}) == "氨 5.0 mg/m³；苯 1.0 mg/m³"
    assert others_text('{"H2": 3}') == "氢气 3.0 %LEL" and others_text(None) is None


# --- template limits ---

def test_stricter_template_limits_apply():
    strict = limits_from({"ex_vol_high_lel": 0.25, "h2s": 5, "o2_min": 19.8})
    assert ex(10, "甲烷").passed and not ex(10, "甲烷", limits=strict).passed
    assert not evaluate({"H2S": 6}, medium=None, limits=strict).passed
    assert not evaluate({"O2": 19.6}, medium=None, limits=strict, oxygen_range=True).passed
    assert looser_fields(strict) == []


def test_looser_template_limits_are_reported():
    loose = limits_from({"ex_vol_high_lel": 0.8, "o2_min": 19.0, "co": 30})
    assert looser_fields(loose) == [
        "ex_vol_high_lel = 0.8 is looser than GB 30871-2022 (可燃气体 LEL≥4% 时 ≤ 0.5 %vol)",
        "o2_min = 19 is looser than GB 30871-2022 (受限空间氧气 ≥ 19.5 %vol)",
        "co = 30 is looser than GB 30871-2022 (一氧化碳 < 20 mg/m³，GBZ 2.1 PC-TWA)",
    ]
    fields = ("ex_vol_low_lel", "o2_max", "o2_ceiling", "h2s")
    loose_rest = GasLimits(ex_vol_low_lel=0.3, o2_max=22.0, o2_ceiling=24.0, h2s=15)
    assert [m.split(" ")[0] for m in looser_fields(loose_rest)] == list(fields)
    assert looser_fields(STATUTORY) == []


def test_a_template_may_tighten_another_toxic_gas_and_not_loosen_it():
    strict = limits_from({"nh3": 20, "c6h6": 6})
    assert evaluate({"NH3": 25}, medium=None).passed   # under GBZ 2.1's 30
    failed = evaluate({"NH3": 25}, medium=None, limits=strict)
    assert not failed.passed and "氨 25.0 mg/m³ 不合格，限值 < 20 mg/m³" in failed.text()
    assert evaluate({"NH3": 19.9}, medium=None, limits=strict).passed
    assert not evaluate({"C6H6": 6}, medium=None, limits=strict).passed
    assert evaluate({"CL2": 0.9}, medium=None, limits=strict).passed   # a gas not named keeps its table figure
    assert not evaluate({"CL2": 1.0}, medium=None, limits=strict).passed
    assert looser_fields(strict) == []
    assert looser_fields(limits_from({"cl2": 2, "nh3": 30})) == [
        "cl2 = 2 is looser than GB 30871-2022 (氯气 < 1 mg/m³，GBZ 2.1 MAC)"]
    assert limits_from({"nh3": 20, "so2": 5}) == limits_from({"so2": 5, "nh3": 20})   # order-free


def test_limits_from_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="ex_limit"):
        limits_from({"ex_limit": 0.1})
    with pytest.raises(ValueError, match="h2s"):
        limits_from({"h2s": "10"})
    with pytest.raises(ValueError, match="o2_min"):
        limits_from({"o2_min": 22.0})
    with pytest.raises(ValueError, match="h2 .*known: .*nh3"):
        limits_from({"h2": 10})   # a combustible gas's limit is the %vol split, not a template key
    with pytest.raises(ValueError, match="nh3"):
        limits_from({"nh3": 0})
    assert limits_from({}) == STATUTORY


# --- chat input ---

@pytest.mark.parametrize("text", [
    "O2=20.9 EX=0.1 H2S=0 CO=0",
    "o2=20.9，ex=0.1，h2s=0，co=0",
    "O2＝20.9,EX＝0.1, H2S = 0 CO=0",
    "Ｏ２＝２０.９；EX:.1、H2S=0 CO=0.",
])
def test_parse_values_accepts_common_forms(text):
    assert parse_values(text) == {"O2": 20.9, "EX": 0.1, "H2S": 0.0, "CO": 0.0}


@pytest.mark.parametrize("text, named", [
    ("O2=20.9 EX", "EX"),
    ("O2=abc", "O2=abc"),
    ("O2=-1", "O2=-1"),
    ("EX=0.1%", "EX=0.1%"),
    ("HCHO=1", "HCHO"),
    ("O2=20.9 o2=20.8", "o2=20.8"),
])
def test_parse_values_rejects_malformed_tokens_naming_them(text, named):
    with pytest.raises(ValueError, match=f"「{named}」"):
        parse_values(text)


def test_parse_values_rejects_empty_text():
    with pytest.raises(ValueError, match="未填写"):
        parse_values("  ")
