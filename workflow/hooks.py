"""The gates whose checks live outside the engine, and the registry the composition root fills.

The certificate registry, the gas detectors and the face check are not part of the engine; each
ships a function that returns the problems it finds (plain Chinese), and the gate refuses on any.
The engine names its gates here and imports none of the checks; the composition root registers them.
A gate with nothing registered refuses every command that reaches it, so that forgetting to wire a
check can never let a permit through.
"""
from __future__ import annotations

from typing import Callable

from .errors import GateNotWired

# The gates the engine consults, with the name a person reads when one is left unwired.
GATES: dict[str, str] = {"certificates": "人员持证检查", "monitoring": "连续气体监测检查",
                         "certificate_expiry": "证书到期提醒", "gas_reading": "气体检测读数处置",
                         "face_check": "人脸核验", "isolation": "能量隔离检查",
                         "isolation_release": "能量隔离解除指派", "resume": "应急状态检查",
                         "hazard_hold": "重大隐患区域检查",
                         "tools": "安全工器具检查", "meeting": "班前会检查"}
CHECKS: dict[str, list[Callable]] = {name: [] for name in GATES}
# The permit roles named by the applicant, whose certificates are checked at every assignment.
MEMBER_ROLES = ("作业人", "监护人")


def register(name: str, check: Callable) -> Callable:
    """Add check to the named gate once; usable as a decorator."""
    if name not in CHECKS:
        raise KeyError(f"no gate named {name!r}; the engine's gates are {', '.join(GATES)}")
    if check not in CHECKS[name]:   # the root may be built more than once in a process
        CHECKS[name].append(check)
    return check


def unregister(name: str, check: Callable) -> None:
    """Remove a check added by register()."""
    CHECKS[name].remove(check)


def unwired() -> list[str]:
    """Return the gates that have no check registered."""
    return [name for name, checks in CHECKS.items() if not checks]


def problems(name: str, permit, **kwargs) -> list[str]:
    """Run every check registered for the gate and collect what they find; refuse if none is registered."""
    checks = CHECKS[name]
    if not checks:
        raise GateNotWired(name, GATES[name])
    return [p for check in checks for p in check(permit, **kwargs)]
