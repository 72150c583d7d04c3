"""GB 30871-2022 figures: the floor that every work-type template must meet or make stricter."""
from __future__ import annotations

from dataclasses import dataclass, field

UNGRADED = "default"  # the grade key of a work type that has no grades

# Approvers by rank: a template may name a higher-ranked approver than the statute, never a lower one.
APPROVER_RANK = {"基层单位负责人": 1, "专业部门负责人": 2, "安全管理部门负责人": 3, "主管领导": 4}

# Roles that only the permit itself assigns (named by the applicant), next to the org's roles.
PERMIT_ROLES = ("申请人", "作业人", "监护人")


@dataclass(frozen=True)
class Band:
    grade: str
    max: float | None = None     # upper bound, inclusive
    below: float | None = None   # upper bound, exclusive


@dataclass(frozen=True)
class Statute:
    clause: str
    approver: dict[str, str]                       # grade → the approver role the law names
    validity_hours: dict[str, float] = field(default_factory=dict)  # grade → longest validity
    gas_fresh_minutes: int | None = None           # sample taken at most this long before start
    retest_minutes: dict[str, int] = field(default_factory=dict)    # grade → re-test after a pause
    oxygen_range: bool = False
    continuous_monitoring: tuple[str, ...] = ()    # grades that need continuous monitoring
    raise_on: tuple[str, ...] = ()                 # conditions that raise the grade one step
    wind_force: int | None = None
    bands: tuple[Band, ...] = ()
    band_min: float | None = None
    countersign: bool = False                      # sign-off by the owners before approval
    log_every_minutes: int | None = None           # a logged reading at least this often during the work
    min_guardians: int = 1


HEIGHT_BANDS = (Band("Ⅰ", max=5), Band("Ⅱ", max=15), Band("Ⅲ", max=30), Band("Ⅳ"))
LIFTING_BANDS = (Band("三级", below=40), Band("二级", max=100), Band("一级"))

STATUTES: dict[str, Statute] = {
    "hot_work": Statute(
        clause="GB 30871-2022 第5章 动火作业",
        approver={"特级": "主管领导", "一级": "安全管理部门负责人", "二级": "基层单位负责人"},
        validity_hours={"特级": 8, "一级": 8, "二级": 72},
        gas_fresh_minutes=30, retest_minutes={"特级": 30, "一级": 30, "二级": 60},
        continuous_monitoring=("特级",), raise_on=("night", "holiday", "wind"), wind_force=5),
    "confined_space": Statute(
        clause="GB 30871-2022 第6章 受限空间作业",
        approver={UNGRADED: "基层单位负责人"}, validity_hours={UNGRADED: 24},
        gas_fresh_minutes=30, retest_minutes={UNGRADED: 60}, oxygen_range=True,
        continuous_monitoring=(UNGRADED,), log_every_minutes=120),
    "blind_plate": Statute(
        clause="GB 30871-2022 第7章 盲板抽堵作业", approver={UNGRADED: "基层单位负责人"}),
    "height": Statute(
        clause="GB 30871-2022 第8章 高处作业",
        approver={"Ⅰ": "基层单位负责人", "Ⅱ": "专业部门负责人", "Ⅲ": "专业部门负责人",
                  "Ⅳ": "主管领导"},
        validity_hours={g: 7 * 24 for g in ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ")},
        bands=HEIGHT_BANDS, band_min=2, raise_on=("aggravating",)),
    "lifting": Statute(
        clause="GB 30871-2022 第9章 吊装作业",
        approver={"一级": "主管领导", "二级": "专业部门负责人", "三级": "专业部门负责人"},
        bands=LIFTING_BANDS),
    "temp_power": Statute(
        clause="GB 30871-2022 第10章 临时用电作业",
        approver={UNGRADED: "配送电单位负责人"}, validity_hours={UNGRADED: 15 * 24}),
    "excavation": Statute(
        clause="GB 30871-2022 第11章 动土作业",
        approver={UNGRADED: "专业部门负责人"}, countersign=True),
    "road_closure": Statute(
        clause="GB 30871-2022 第12章 断路作业",
        approver={UNGRADED: "专业部门负责人"}, countersign=True),
}

TEMP_POWER_SPECIAL_HOURS = 30 * 24   # "15 days (30 in special cases)"
CHECKIN_MINUTES = 30                 # an on-site check-in counts for this long at most
SERVED_BY_TEMP_POWER = ("hot_work", "confined_space")


def band_grade(bands: tuple[Band, ...], value: float) -> str:
    """Return the grade whose band holds value (bands are mildest first)."""
    for band in bands:
        if band.max is not None and value <= band.max:
            return band.grade
        if band.below is not None and value < band.below:
            return band.grade
        if band.max is None and band.below is None:
            return band.grade
    raise ValueError(f"no band holds {value}")
