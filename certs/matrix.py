"""The certificate × role × work type matrix, read from matrix.toml once."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MATRIX = Path(__file__).with_name("matrix.toml")
ANY = "*"


@dataclass(frozen=True)
class Matrix:
    warn_days: dict[str, int]                          # certificate kind -> days of warning
    needs: tuple[tuple[str, str, frozenset[str]], ...]  # (kind, role, work types)
    contractor_warn_days: int = 7
    # The certificate kind a contractor's entry training writes; set, a contractor's temporary
    # authorisation counts only while they hold it.
    contractor_entry: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.warn_days)

    def required(self, role: str, work_type: str) -> list[str]:
        """Return the certificate kinds role needs for work_type."""
        return [kind for kind, r, types in self.needs if r == role and (work_type in types or ANY in types)]

    def roles_needing(self, kind: str) -> list[str]:
        """Return the roles that need kind for some work type, in matrix order."""
        return list(dict.fromkeys(r for k, r, _ in self.needs if k == kind))


def load(path: Path = MATRIX) -> Matrix:
    """Read and check the matrix; a need naming an unknown kind is a mistake in the data."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    warn_days = {kind: int(spec["warn_days"]) for kind, spec in data["kinds"].items()}
    needs = []
    for need in data.get("needs", []):
        if need["certificate"] not in warn_days:
            raise ValueError(f"{path.name}: unknown certificate {need['certificate']!r} in needs")
        needs.append((need["certificate"], need["role"], frozenset(need["work_types"])))
    contractors = data.get("contractors", {})
    entry = contractors.get("entry_training", "")
    if entry and entry not in warn_days:
        raise ValueError(f"{path.name}: unknown certificate {entry!r} as the contractors' entry_training")
    return Matrix(warn_days, tuple(needs), int(contractors.get("warn_days", 7)), entry)


@lru_cache(maxsize=1)
def current() -> Matrix:
    """Return the shipped matrix."""
    return load()
