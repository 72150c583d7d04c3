"""Checks that parts of the product outside the engine plug into the engine's gates.

The certificate registry and the gas-detector registry live outside the engine; each registers a
function here that returns the problems it finds (plain Chinese), and the gate refuses on any.
"""
from __future__ import annotations

import importlib
import threading
from typing import Callable

CHECKS: dict[str, list[Callable]] = {"certificates": [], "monitoring": [], "certificate_expiry": [],
                                     "gas_reading": [], "face_check": [], "resume": []}
# Checks the product ships with, named rather than imported: the engine must not depend on the
# registries, yet a gate must never pass merely because nobody imported the module behind it.
BUILTIN = {"monitoring": ("sensors.watch", "monitoring_problems"),
           "gas_reading": ("sensors.alarms", "manual_reading"),
           "certificates": ("certs.check", "permit_problems"),
           "certificate_expiry": ("certs.expiry", "warn_expiring"),
           "face_check": ("faces.gate", "problems"),
           "resume": ("emergency.stop", "resume_problems")}
# The permit roles named by the applicant, whose certificates are checked at every assignment.
MEMBER_ROLES = ("作业人", "监护人")
_loaded: set[str] = set()
_loading = threading.Lock()


def _load_builtin(name: str) -> None:
    with _loading:
        if name in BUILTIN and name not in _loaded:
            module, attr = BUILTIN[name]
            register(name, getattr(importlib.import_module(module), attr))
            _loaded.add(name)


def register(name: str, check: Callable) -> Callable:
    """Add check to the named gate; usable as a decorator."""
    CHECKS[name].append(check)
    return check


def unregister(name: str, check: Callable) -> None:
    """Remove a check added by register()."""
    CHECKS[name].remove(check)


def problems(name: str, permit, **kwargs) -> list[str]:
    """Run every check registered for the gate and collect what they find."""
    _load_builtin(name)
    return [p for check in CHECKS[name] for p in check(permit, **kwargs)]
