"""The shape of a work-type template: its dataclasses and the words a template may use.

The loader (template.py) calls the checker (validate.py); both read the shapes from here, so the
checker never needs the loader.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .rules import UNGRADED, Band

STEP_KINDS = ("confirm", "approve", "checklist", "gas")
SIGN_MODES = ("any", "all")        # 或签 / 会签
ACTIONS = ("approve", "confirm", "reject", "return", "rectify")
COMPLETING_ACTIONS = {"approve", "confirm"}
FIELD_TYPES = ("str", "int", "float", "choice", "multi", "bool")
SCOPES = ("unit", "nearest", "plant", "permit")
PRESENCE_ROLES = ("监护人", "作业负责人", "作业人")   # whom a step's gates.checkins may name


@dataclass(frozen=True)
class FieldDef:
    key: str
    label: str
    type: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gates:
    gas_fresh: bool = False           # a passing gas reading no older than gas.fresh_minutes
    photos: tuple[str, ...] = ()      # attachment kinds that must be on the permit
    guardians: bool = False           # the template's minimum number of guardians is named
    certificates: tuple[str, ...] = ()  # permit roles whose certificates are checked
    window: bool = False              # now lies inside the permit's planned window
    monitoring: bool = False          # continuous gas monitoring where the grade needs it
    checkins: tuple[str, ...] = ()    # who must have checked in on site: 监护人, 作业负责人, 作业人
    face_check: bool = False          # the signer's selfie must match their enrolled face
    tools: tuple[str, ...] = ()       # tool kinds the signer or the crew must hold, in test (安全工器具)


@dataclass(frozen=True)
class StepDef:
    key: str
    name: str
    phase: str
    kind: str
    roles: tuple[str, ...]
    mode: str = "any"
    scope: str | None = None
    limit_minutes: int = 60
    escalate: tuple[str, ...] = ()
    actions: tuple[str, ...] = ("confirm",)
    grades: tuple[str, ...] = ()      # empty: every grade
    onsite: bool = False
    onsite_waiver: str = ""
    checklist: tuple[str, ...] = ()
    gates: Gates = Gates()

    def applies_to(self, grade: str | None) -> bool:
        return not self.grades or (grade or UNGRADED) in self.grades


# Steps the engine inserts into a permit of any type when its situation asks for them.
COORDINATE = "coordinate"
COORDINATOR_ROLE = "协调人"
INSERTED_STEPS = {
    COORDINATE: StepDef(key=COORDINATE, name="交叉作业协调", phase="approve", kind="approve",
                        roles=(COORDINATOR_ROLE,), scope="permit", limit_minutes=60,
                        escalate=("安全管理部门负责人",), actions=("approve", "reject", "return"),
                        onsite_waiver="协调人统筹同一区域、同一时段的各方作业，可不到现场签字"),
}


@dataclass(frozen=True)
class Grading:
    by: str = "none"                  # none | declared | bands
    attribute: str = ""
    levels: tuple[str, ...] = ()      # mildest first
    bands: tuple[Band, ...] = ()
    min: float | None = None
    raise_on: tuple[str, ...] = ()
    night: tuple[str, str] = ("18:00", "06:00")
    wind_force: int = 5
    weekends_are_holidays: bool = True


@dataclass(frozen=True)
class GasRules:
    required: tuple[str, ...] = ()
    fresh_minutes: int | None = None
    retest_minutes: dict[str, int] = field(default_factory=dict)
    oxygen_range: bool = False
    continuous: tuple[str, ...] = ()
    limits: dict[str, float] = field(default_factory=dict)
    log_every_minutes: int | None = None   # running work needs a logged reading at least this often


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    prefix: str
    file: str
    grading: Grading
    validity_hours: dict[str, float]
    steps: tuple[StepDef, ...]
    fields: tuple[FieldDef, ...] = ()
    gas: GasRules = GasRules()
    min_guardians: int = 1
    needs_medium: bool = False
    checkin_minutes: int = 30
    unique_open: tuple[str, ...] = ()
    validity_special_hours: float | None = None
    # Energy isolation before the start: true for every grade, or the grades that need it.
    isolation: bool | tuple[str, ...] = False

    def needs_isolation(self, grade: str | None) -> bool:
        return self.isolation is True or (grade or UNGRADED) in (self.isolation or ())

    @property
    def grades(self) -> tuple[str, ...]:
        if self.grading.by == "declared":
            return self.grading.levels
        if self.grading.by == "bands":
            return tuple(b.grade for b in self.grading.bands)
        return (UNGRADED,)

    def step(self, key: str) -> StepDef:
        for step in self.steps:
            if step.key == key:
                return step
        if key in INSERTED_STEPS:
            return INSERTED_STEPS[key]
        raise KeyError(key)

    def field(self, key: str) -> FieldDef | None:
        return next((f for f in self.fields if f.key == key), None)
