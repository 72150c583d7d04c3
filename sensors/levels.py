"""Fixed gas-detector alarm levels (GB/T 50493-2019 §5.5.2) and what a reading may physically be."""
from __future__ import annotations

import math
from dataclasses import dataclass

from workflow.gas import GAS_LABELS, UNITS
from workflow.gas_table import GASES as TABLE

FIRST, SECOND, OFF_LIMITS, OFFLINE = "一级", "二级", "超限", "离线"
# A higher rank replaces a lower active alarm; 超限 (outside a running permit's pass limits) and
# 二级 both stop the work, 二级 being the plant-wide emergency.
RANK = {FIRST: 1, OFF_LIMITS: 2, SECOND: 3}
STOPS_WORK = frozenset({SECOND, OFF_LIMITS})

# Default (first, second) alarm set points, from workflow/gases.toml: combustible in %LEL; toxic at
# 100 % and 200 % of the GBZ 2.1 limit in mg/m³. A detector's own set points replace them per gas.
SET_POINTS = {code: (gas.first, gas.second) for code, gas in TABLE.items() if gas.kind != "oxygen"}
# Oxygen has one low and one high alarm and no second level; either means the air itself is wrong
# (asphyxiation, or fire that burns violently), so both are treated as a second alarm: leave.
O2_LOW, O2_HIGH = TABLE["O2"].first, TABLE["O2"].second

# Largest value each gas can physically read: O2 is a share of the air; %LEL reaches 100 %vol of a
# medium whose LEL is 1 %; a pure toxic gas at 20 °C weighs about 1.4 kg/m³ (H2S), 0.7 kg/m³ (NH3)
# (gases.toml, ceiling). A reading over the alarm level but under these is real and must never be refused.
CEILINGS = {code: gas.most for code, gas in TABLE.items()}


@dataclass(frozen=True)
class Trip:
    """One gas at or past an alarm set point."""

    gas: str
    value: float
    level: str
    text: str


def check_value(gas: str, value: object) -> float:
    """Return value as a float, or raise ValueError naming why it cannot be a reading of gas."""
    label = f"{GAS_LABELS[gas]}（{gas}）"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{label}读数 {value!r} 不是数")
    try:
        value = float(value)
    except OverflowError:  # an integer too long for a float: JSON allows it, no detector reads it
        raise ValueError(f"{label}读数 {str(value)[:20]}… 超出物理可能") from None
    if not math.isfinite(value):
        raise ValueError(f"{label}读数 {value} 不是有限的数")
    if value < 0:
        raise ValueError(f"{label}读数 {value:g} 为负数")
    if value > CEILINGS[gas]:
        raise ValueError(f"{label}读数 {value:g} {UNITS[gas]} 超出物理可能（上限 {CEILINGS[gas]:g}）")
    return value


def trips(values: dict[str, float], own: dict | None = None) -> list[Trip]:
    """Return each gas of a reading at or past an alarm set point (own: the detector's), worst first."""
    found = []
    for gas, value in values.items():
        unit = UNITS[gas]
        if gas == "O2":
            if value < O2_LOW:
                found.append(Trip(gas, value, SECOND, f"氧气 {value:g} {unit}，低于缺氧报警值 {O2_LOW:g}"))
            elif value > O2_HIGH:
                found.append(Trip(gas, value, SECOND, f"氧气 {value:g} {unit}，高于富氧报警值 {O2_HIGH:g}"))
            continue
        first, second = own[gas] if own and gas in own else SET_POINTS[gas]
        if value >= second:
            found.append(Trip(gas, value, SECOND, f"{GAS_LABELS[gas]} {value:g} {unit}，达到二级报警值 {second:g}"))
        elif value >= first:
            found.append(Trip(gas, value, FIRST, f"{GAS_LABELS[gas]} {value:g} {unit}，达到一级报警值 {first:g}"))
    return sorted(found, key=lambda trip: -RANK[trip.level])
