"""Work-type templates: one TOML file per type under workflow/templates/, loaded and validated once."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import TemplateError
from .rules import UNGRADED, Band

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

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


def _tuple(value) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _build(cls, raw: dict, where: str, **converted):
    known = set(cls.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise TemplateError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: (_tuple(v) if isinstance(v, list) else v) for k, v in raw.items()}
    values.update(converted)
    try:
        return cls(**values)
    except TypeError as exc:
        raise TemplateError(f"{where}: {exc}") from None


def parse(raw: dict, file: str) -> Template:
    """Turn one template file's TOML into a Template (structure only; validate() checks the rules)."""
    raw = dict(raw)
    try:
        steps_raw = raw.pop("steps")
        grading_raw = dict(raw.pop("grading", {}))
    except KeyError as exc:
        raise TemplateError(f"{file}: missing required field {exc.args[0]}") from None
    steps = []
    for i, s in enumerate(steps_raw):
        s = dict(s)
        where = f"{file}: steps[{i}] ({s.get('key', '?')})"
        role = s.pop("role", None)
        if role is None:
            raise TemplateError(f"{where}: missing field role")
        gates = _build(Gates, s.pop("gates", {}), f"{where}.gates")
        steps.append(_build(StepDef, s, where, roles=_tuple(role), gates=gates))
    bands = tuple(_build(Band, b, f"{file}: grading.bands") for b in grading_raw.pop("bands", []))
    grading = _build(Grading, grading_raw, f"{file}: grading", bands=bands)
    gas = _build(GasRules, raw.pop("gas", {}), f"{file}: gas")
    fields = tuple(_build(FieldDef, f, f"{file}: fields") for f in raw.pop("fields", []))
    validity = raw.pop("validity_hours", {})
    guardians = raw.pop("guardians", {}).get("min", 1)
    return _build(Template, raw, file, file=file, grading=grading, steps=tuple(steps), gas=gas,
                  fields=fields, validity_hours=validity, min_guardians=guardians)


def load_file(path: Path) -> Template:
    """Load and validate one template file."""
    from .validate import validate
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path.name}: not valid TOML: {exc}") from None
    template = parse(raw, path.name)
    validate(template)
    return template


def load_all(directory: Path = TEMPLATE_DIR) -> dict[str, Template]:
    """Load every template in directory, keyed by work-type code."""
    templates = {}
    for path in sorted(directory.glob("*.toml")):
        template = load_file(path)
        if path.stem != template.code:
            raise TemplateError(f"{path.name}: code = {template.code!r} must match the file name")
        templates[template.code] = template
    if not templates:
        raise TemplateError(f"{directory}: no templates found")
    return templates


@lru_cache(maxsize=1)
def registry() -> dict[str, Template]:
    """Return the shipped templates, loaded once per process."""
    return load_all()


def get(code: str) -> Template:
    """Return the template for a work-type code or its Chinese name."""
    templates = registry()
    if code in templates:
        return templates[code]
    for template in templates.values():
        if code in (template.name, template.name.removesuffix("作业")):
            return template
    from .errors import NotFound
    raise NotFound(f"没有这种作业类型：{code}。可选：{'、'.join(t.name for t in templates.values())}")
