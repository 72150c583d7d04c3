"""Judge a gas analysis against a permit's pass limits (GB 30871-2022, 气体分析)."""
from __future__ import annotations

import json
import math
import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import MappingProxyType

from .gas_table import GASES as TABLE

# The four gases every permit form has a column for (and gas_reading a column each); every other
# gas of the table is measured only where a plant has a detector or a tester for it.
CORE = ("O2", "EX", "H2S", "CO")
GASES = CORE + tuple(code for code in TABLE if code not in CORE)
OTHERS = GASES[len(CORE):]
UNITS = {code: TABLE[code].unit for code in GASES}
GAS_LABELS = {code: TABLE[code].label for code in GASES}
LEL_SPLIT = 4.0  # GB 30871: media with LEL ≥ 4 %vol get the 0.5 %vol limit, the rest 0.2 %vol
MEDIA_FILE = Path(__file__).with_name("media.toml")


class UnknownMedium(ValueError):
    """The permit names a combustible medium that media.toml does not list."""

    def __init__(self, medium: str):
        super().__init__(f"未登记的可燃介质「{medium}」：须先在 workflow/media.toml 中登记其爆炸下限（LEL）")
        self.medium = medium


def _fold(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _load_media(path: Path) -> tuple[MappingProxyType, dict[str, str]]:
    """Read media.toml into LELs by name and a lookup from any spelling to the name."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    lel = {name: float(value) for name, value in data["lel_vol"].items()}
    lookup: dict[str, str] = {}
    for name, value in lel.items():
        if not 0 < value < 100:
            raise ValueError(f"{path.name}: [lel_vol] {name} = {value} is not a percentage")
        lookup[_fold(name)] = name
    for alias, name in data.get("aliases", {}).items():
        if name not in lel or lookup.setdefault(_fold(alias), name) != name:
            raise ValueError(f"{path.name}: [aliases] {alias} = {name} names no medium or clashes")
    return MappingProxyType(lel), lookup


# Loaded at import so that a broken media file stops the app at start, not mid-permit.
MEDIA, _LOOKUP = _load_media(MEDIA_FILE)


def _resolve(medium: str) -> str:
    try:
        return _LOOKUP[_fold(medium)]
    except KeyError:
        raise UnknownMedium(medium.strip()) from None


def _check_combustible_gases() -> None:
    """Raise UnknownMedium for a combustible gas of the table whose name media.toml does not list."""
    for code in OTHERS:
        if TABLE[code].kind == "combustible":
            _resolve(TABLE[code].label)


# A single-gas combustible detector's reading is converted by that gas's LEL: a table gas missing
# from media.toml stops the app at start rather than an alarm mid-shift.
_check_combustible_gases()


def lel_of(medium: str) -> float:
    """Return the LEL in %vol of a medium given by name or alias."""
    return MEDIA[_resolve(medium)]


@dataclass(frozen=True)
class GasLimits:
    """Pass limits for one permit; the defaults are the statutory figures."""

    ex_vol_high_lel: float = 0.5  # %vol, medium LEL ≥ 4 %
    ex_vol_low_lel: float = 0.2   # %vol, medium LEL < 4 %
    o2_min: float = 19.5          # %vol, confined space only
    o2_max: float = 21.0          # %vol, confined space only
    o2_ceiling: float = 23.5      # %vol, everywhere: enriched air makes any fire violent
    h2s: float = TABLE["H2S"].oel  # mg/m³, GBZ 2.1 MAC (gases.toml); the reading must be below it
    co: float = TABLE["CO"].oel    # mg/m³, GBZ 2.1 PC-TWA (gases.toml); the reading must be below it
    # A template's own limits for the table's other toxic gases, as (code, mg/m³) pairs sorted by code;
    # a gas not named is held to its GBZ 2.1 figure in gases.toml. Pairs keep the limits hashable.
    toxic: tuple[tuple[str, float], ...] = ()

    def limit_of(self, gas: str) -> float:
        """Return the pass limit of a toxic gas: the reading must be below it."""
        if gas in _CORE_TOXIC:
            return getattr(self, gas.lower())
        return dict(self.toxic).get(gas, TABLE[gas].oel)


STATUTORY = GasLimits()
_CORE_TOXIC = ("H2S", "CO")    # the permit form's own columns, fields of GasLimits
_OTHER_TOXIC = {code.lower(): code for code in OTHERS if TABLE[code].kind == "toxic"}
_LOWER_BOUNDS = frozenset({"o2_min"})  # looser means lower here; every other field is a ceiling
_RULES = {
    "ex_vol_high_lel": f"可燃气体 LEL≥4% 时 ≤ {STATUTORY.ex_vol_high_lel:g} %vol",
    "ex_vol_low_lel": f"可燃气体 LEL<4% 时 ≤ {STATUTORY.ex_vol_low_lel:g} %vol",
    "o2_min": f"受限空间氧气 ≥ {STATUTORY.o2_min:g} %vol",
    "o2_max": f"受限空间氧气 ≤ {STATUTORY.o2_max:g} %vol",
    "o2_ceiling": f"氧气任何时候 ≤ {STATUTORY.o2_ceiling:g} %vol",
    **{code.lower(): f"{TABLE[code].label} < {TABLE[code].oel:g} {TABLE[code].unit}，GBZ 2.1 {TABLE[code].oel_kind}"
       for code in (*_CORE_TOXIC, *_OTHER_TOXIC.values())},
}


def limits_from(overrides: dict) -> GasLimits:
    """Build limits from a template's [gas.limits] table; keys not given keep the statutory figure.

    Keys are GasLimits' fields, or the lower-case code of another toxic gas of the table (nh3, cl2, …).
    """
    names = [f.name for f in fields(GasLimits) if f.name != "toxic"]
    unknown = [key for key in overrides if key not in names and key not in _OTHER_TOXIC]
    if unknown:
        raise ValueError(f"unknown key {', '.join(map(str, unknown))} "
                         f"(known: {', '.join([*names, *_OTHER_TOXIC])})")
    for key, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"{key} = {value!r} must be a positive number")
    toxic = tuple(sorted((_OTHER_TOXIC[key], float(value)) for key, value in overrides.items() if key in _OTHER_TOXIC))
    limits = GasLimits(**{key: float(value) for key, value in overrides.items() if key in names}, toxic=toxic)
    if not limits.o2_min <= limits.o2_max <= limits.o2_ceiling:
        raise ValueError("o2_min ≤ o2_max ≤ o2_ceiling does not hold")
    return limits


def looser_fields(limits: GasLimits) -> list[str]:
    """List every limit looser than GB 30871-2022, each message starting with the field name."""
    found = []
    for name in _RULES:
        code = _OTHER_TOXIC.get(name)
        mine, law = ((limits.limit_of(code), STATUTORY.limit_of(code)) if code
                     else (getattr(limits, name), getattr(STATUTORY, name)))
        if (mine < law) if name in _LOWER_BOUNDS else (mine > law):
            found.append(f"{name} = {mine:g} is looser than GB 30871-2022 ({_RULES[name]})")
    return found


def _num(value: float) -> str:
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


def _vol(value: float) -> str:
    # Two decimals as on the permit form, a third where two would hide a fail just above the limit.
    return f"{value:.2f}" if abs(value - round(value, 2)) < 1e-9 else f"{value:.3f}"


@dataclass(frozen=True)
class GasItem:
    """One gas's reading and whether it met its limit."""

    gas: str
    value: float
    unit: str
    passed: bool
    limit: str
    vol: float | None = None  # combustible reading converted to %vol

    def text(self) -> str:
        """Render the item as one Chinese phrase."""
        shown = f"{GAS_LABELS[self.gas]} {_num(self.value)} {self.unit}"
        shown += f"（折 {_vol(self.vol)} %vol）" if self.vol is not None else " "
        return f"{shown}合格" if self.passed else f"{shown}不合格，限值 {self.limit}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one gas analysis."""

    passed: bool
    items: tuple[GasItem, ...]
    missing: tuple[str, ...] = ()

    def text(self) -> str:
        """Render the verdict as one Chinese line."""
        parts = [item.text() for item in self.items]
        if self.missing:
            parts.append("缺少 " + "、".join(GAS_LABELS[gas] for gas in self.missing))
        return ("合格：" if self.passed else "不合格：") + "；".join(parts)

    def as_dict(self) -> dict:
        """Return a JSON-serialisable dict for storing with the reading."""
        return {"passed": self.passed, "items": [asdict(item) for item in self.items],
                "missing": list(self.missing), "text": self.text()}


def _code(key: object) -> str:
    gas = str(key).strip().upper()
    if gas not in UNITS:
        raise ValueError(f"未知的气体代号「{str(key)[:20]}」：可用 {'、'.join(GASES)}")
    return gas


def others(values: dict[str, float]) -> dict[str, float] | None:
    """The readings of gases beyond the four columns, as stored in gas_reading.others (None: none)."""
    found = {gas: value for gas, value in values.items() if gas not in CORE}
    return found or None


def others_text(others: dict | str | None) -> str | None:
    """Render the other gases' readings (a dict, or its JSON text as a raw query returns it) in Chinese."""
    if isinstance(others, str):
        others = json.loads(others)
    if not others:
        return None
    return "；".join(f"{GAS_LABELS.get(gas, gas)} {_num(value)} {UNITS.get(gas, '')}".rstrip()
                    for gas, value in sorted(others.items(), key=lambda kv: _order(kv[0])))


def _order(gas: str) -> int:
    return GASES.index(gas) if gas in GASES else len(GASES)


def _ex(ex: float, medium: str | None, limits: GasLimits, gas: str = "EX") -> GasItem:
    if gas != "EX":
        # A detector for one combustible gas (H2, CH4) reads %LEL of that gas: its own LEL converts it.
        medium = TABLE[gas].label
    if medium is None or not medium.strip():
        # No medium, no LEL: take the stricter limit and the highest registered LEL, which
        # turns a %LEL reading into the most %vol it could mean, so no medium is judged too leniently.
        name, lel = max(MEDIA.items(), key=lambda kv: kv[1])
        limit = limits.ex_vol_low_lel
        note = f"介质未指定，从严按 LEL<4% 限值并按最高 LEL（{name} {lel:.1f}%）折算"
    else:
        name = _resolve(medium)
        lel = MEDIA[name]
        limit = limits.ex_vol_high_lel if lel >= LEL_SPLIT else limits.ex_vol_low_lel
        note = f"介质 {name} LEL {lel:.1f}%"
    vol = round(lel * ex / 100, 9)  # float noise must not fail a reading exactly at the limit
    text = f"≤ {_vol(limit)} %vol（折算 {limit / lel * 100:.1f} %LEL，{note}）"
    return GasItem(gas, ex, UNITS[gas], vol <= limit, text, vol)


def _item(gas: str, value: float, *, medium: str | None, limits: GasLimits,
          oxygen_range: bool) -> GasItem:
    if TABLE[gas].kind == "combustible":
        return _ex(value, medium, limits, gas)
    if gas == "O2" and oxygen_range:
        ok = limits.o2_min <= value <= min(limits.o2_max, limits.o2_ceiling)
        return GasItem(gas, value, UNITS[gas], ok, f"{limits.o2_min:.1f}–{limits.o2_max:.1f} %vol")
    if gas == "O2":
        return GasItem(gas, value, UNITS[gas], value <= limits.o2_ceiling, f"≤ {limits.o2_ceiling:.1f} %vol")
    limit = limits.limit_of(gas)
    return GasItem(gas, value, UNITS[gas], value < limit, f"< {limit:g} {UNITS[gas]}")


def evaluate(values: dict[str, float], *, medium: str | None, limits: GasLimits = STATUTORY,
             required: tuple[str, ...] = (), oxygen_range: bool = False) -> Verdict:
    """Judge readings (gas code → value in UNITS) against limits for the permit's medium."""
    readings: dict[str, float] = {}
    for key, raw in values.items():
        gas = _code(key)
        value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else math.nan
        if not 0 <= value < math.inf:
            raise ValueError(f"{GAS_LABELS[gas]}读数 {raw} 无效：应为不小于 0 的数")
        if gas in readings:
            raise ValueError(f"{GAS_LABELS[gas]}读数填写了两次")
        readings[gas] = value
    items = tuple(_item(gas, readings[gas], medium=medium, limits=limits, oxygen_range=oxygen_range)
                  for gas in GASES if gas in readings)
    missing = tuple(gas for gas in dict.fromkeys(map(_code, required)) if gas not in readings)
    # An analysis with no readings at all proves nothing, so it cannot pass.
    passed = bool(items) and not missing and all(item.passed for item in items)
    return Verdict(passed, items, missing)


_TOKEN = re.compile(r"([A-Za-z][A-Za-z0-9]*)=(\d+(?:\.\d*)?|\.\d+)")


def parse_values(text: str) -> dict[str, float]:
    """Parse readings typed in chat, such as 'O2=20.9 EX=0.1 H2S=0 CO=0'."""
    # NFKC folds full-width ＝，：and digits, and O₂, to their ASCII forms.
    normal = re.sub(r"\s*[=:]\s*", "=", unicodedata.normalize("NFKC", text))
    tokens = [t for t in re.split(r"[\s,;、]+", normal) if t]
    if not tokens:
        raise ValueError("未填写气体读数，格式如：O2=20.9 EX=0 H2S=0 CO=0（其他气体如 NH3=0）")
    values: dict[str, float] = {}
    for token in tokens:
        match = _TOKEN.fullmatch(token)
        if not match:
            raise ValueError(f"无法识别「{token}」，格式如：O2=20.9 EX=0 H2S=0 CO=0")
        gas = _code(match[1])
        if gas in values:
            raise ValueError(f"{GAS_LABELS[gas]}读数填写了两次：「{token}」")
        values[gas] = float(match[2])
    return values
