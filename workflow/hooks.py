"""Checks that later parts of the product plug into the engine's gates.

The certificate registry and the gas-detector registry live outside the engine; each registers a
function here that returns the problems it finds (plain Chinese), and the gate refuses on any.
"""
from __future__ import annotations

from typing import Callable

CHECKS: dict[str, list[Callable]] = {"certificates": [], "monitoring": [], "certificate_expiry": []}


def register(name: str, check: Callable) -> Callable:
    """Add check to the named gate; usable as a decorator."""
    CHECKS[name].append(check)
    return check


def unregister(name: str, check: Callable) -> None:
    """Remove a check added by register()."""
    CHECKS[name].remove(check)


def problems(name: str, permit, **kwargs) -> list[str]:
    """Run every check registered for the gate and collect what they find."""
    return [p for check in CHECKS[name] for p in check(permit, **kwargs)]
