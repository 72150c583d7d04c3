"""Work-type templates: one TOML file per type under workflow/templates/, loaded and validated once."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from .errors import NotFound, TemplateError
from .rules import Band
from .schema import COORDINATE, COORDINATOR_ROLE, INSERTED_STEPS, FieldDef, GasRules, Gates, Grading, StepDef, Template
from .validate import validate

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


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
    raise NotFound(f"没有这种作业类型：{code}。可选：{'、'.join(t.name for t in templates.values())}")
