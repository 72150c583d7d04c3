"""The shipped table of gases (gases.toml): units, default alarm set points, toxic limits, sources."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

TABLE_FILE = Path(__file__).with_name("gases.toml")
KINDS = ("oxygen", "combustible", "toxic")


@dataclass(frozen=True)
class Gas:
    code: str
    label: str
    unit: str
    kind: str
    first: float      # the loosest first alarm set point the standard allows (oxygen: the low alarm)
    second: float     # the loosest second alarm set point (oxygen: the high alarm)
    source: str
    oel: float | None = None        # toxic gases: the GBZ 2.1 limit, the permit's pass limit too
    oel_kind: str | None = None
    ceiling: float | None = None    # toxic gases: the pure gas's density, the most a reading can be

    @property
    def most(self) -> float:
        """The largest reading this gas can physically give, in its unit."""
        return {"oxygen": 100.0, "combustible": 10_000.0}.get(self.kind, self.ceiling)


def _load(path: Path) -> MappingProxyType:
    found = {}
    for code, row in tomllib.loads(path.read_text(encoding="utf-8")).items():
        gas = Gas(code=code, **row)
        if gas.kind not in KINDS or not 0 < gas.first < gas.second:
            raise ValueError(f"{path.name}: [{code}] needs a known kind and 0 < first < second")
        if (gas.kind == "toxic") != (gas.oel is not None) or (gas.oel is not None and gas.first > gas.oel):
            raise ValueError(f"{path.name}: [{code}] a toxic gas has an oel, and its first set point is at most it")
        if (gas.kind == "toxic") != (gas.ceiling is not None) or (gas.ceiling is not None and gas.ceiling <= gas.second):
            raise ValueError(f"{path.name}: [{code}] a toxic gas has a ceiling above its second set point")
        found[code] = gas
    return MappingProxyType(found)


# Loaded at import so that a broken table stops the app at start, not at the first alarm.
GASES = _load(TABLE_FILE)


def set_point_problems(code: str, first: float | None, second: float | None) -> list[str]:
    """Name what is wrong with a detector's own set points for gas code (none: the defaults hold)."""
    gas = GASES[code]
    if gas.kind == "oxygen":
        return [f"氧气报警值固定为 {gas.first:g}/{gas.second:g} %vol（{gas.source}），不能按检测仪设置"]
    found = []
    for name, mine, law in (("一级", first, gas.first), ("二级", second, gas.second)):
        if mine is not None and mine > law:
            found.append(f"{gas.label}（{code}）{name}报警值 {mine:g} {gas.unit} 高于标准上限 {law:g} {gas.unit}"
                         f"（{gas.source}）")
    low, high = gas.first if first is None else first, gas.second if second is None else second
    if not found and low >= high:
        found.append(f"{gas.label}（{code}）一级报警值 {low:g} 须低于二级报警值 {high:g}")
    if any(v is not None and v <= 0 for v in (first, second)):
        found.append(f"{gas.label}（{code}）报警值须大于 0")
    return found
