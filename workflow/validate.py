"""Check a parsed template: its structure, and that no GB 30871 figure is made looser."""
from __future__ import annotations

import re

from models.org import ROLES

from . import gas
from .errors import TemplateError
from .rules import APPROVER_RANK, CHECKIN_MINUTES, PERMIT_ROLES, STATUTES, TEMP_POWER_SPECIAL_HOURS, \
    UNGRADED, band_grade
from .schema import ACTIONS, COMPLETING_ACTIONS, FIELD_TYPES, PRESENCE_ROLES, SCOPES, SIGN_MODES, \
    STEP_KINDS, Template
from .states import CLOSED, DRAFT, PHASE_STATE, PHASES, leads

SINGLE_PHASES = ("start", "work", "accept", "close")


def validate(t: Template) -> None:
    """Raise TemplateError naming file, field and rule for every problem found in t."""
    problems = _structure(t) + _steps(t)
    if not problems:
        problems = _moves(t) + _statute(t)
    if problems:
        raise TemplateError("\n".join(f"{t.file}: {p}" for p in problems))


def _moves(t: Template) -> list[str]:
    """Name every grade whose steps, taken in order, would need a move the state table does not hold."""
    problems = []
    for grade in t.grades:
        steps = [s for s in t.steps if s.applies_to(grade)]
        path = [(DRAFT, "submit", PHASE_STATE[steps[0].phase], "submit")]
        path += [(PHASE_STATE[a.phase], "record_gas" if a.kind == "gas" else "sign", PHASE_STATE[b.phase],
                  f"steps.{a.key} -> steps.{b.key}") for a, b in zip(steps, steps[1:])]
        path.append((PHASE_STATE[steps[-1].phase], "sign", CLOSED, f"steps.{steps[-1].key} -> close"))
        problems += [f"{where} (grade {grade}): {event} would move the permit from {source} to {dest}, "
                     "which the state table does not allow" for source, event, dest, where in path
                     if not leads(source, event, dest)]
    return problems


def _structure(t: Template) -> list[str]:
    problems = []
    if not re.fullmatch(r"[A-Z]{2,4}", t.prefix or ""):
        problems.append(f"prefix = {t.prefix!r}: must be 2–4 capital letters (e.g. DH)")
    for f in t.fields:
        if f.type not in FIELD_TYPES:
            problems.append(f"fields.{f.key}.type = {f.type!r}: must be one of {FIELD_TYPES}")
        if f.type in ("choice", "multi") and not f.choices:
            problems.append(f"fields.{f.key}: a {f.type} field needs choices")
    keys = {f.key for f in t.fields}
    g = t.grading
    if g.by not in ("none", "declared", "bands"):
        problems.append(f"grading.by = {g.by!r}: must be none, declared or bands")
    if g.by != "none" and g.attribute not in keys:
        problems.append(f"grading.attribute = {g.attribute!r}: not one of the template's fields")
    problems += [f"unique_open: {k!r} is not one of the template's fields"
                 for k in t.unique_open if k not in keys]
    if not isinstance(t.isolation, bool):
        problems += [f"isolation: {g!r} is not one of the template's grades {t.grades}"
                     for g in t.isolation if g not in t.grades]
    if t.checkin_minutes < 1:
        problems.append(f"checkin_minutes = {t.checkin_minutes}: must be at least 1")
    for grade in t.grades:
        if grade not in t.validity_hours:
            problems.append(f"validity_hours.{grade}: missing (every grade needs a validity)")
    return problems


def _steps(t: Template) -> list[str]:
    problems, seen = [], set()
    known_roles = set(ROLES) | set(PERMIT_ROLES)
    last_phase = 0
    for s in t.steps:
        at = f"steps.{s.key}"
        if s.key in seen:
            problems.append(f"{at}: the key is used twice")
        seen.add(s.key)
        for name, value, allowed in (("phase", s.phase, PHASES), ("kind", s.kind, STEP_KINDS),
                                     ("mode", s.mode, SIGN_MODES)):
            if value not in allowed:
                problems.append(f"{at}.{name} = {value!r}: must be one of {', '.join(allowed)}")
        if s.scope is not None and s.scope not in SCOPES:
            problems.append(f"{at}.scope = {s.scope!r}: must be one of {', '.join(SCOPES)}")
        problems += [f"{at}.role: unknown role {r!r}" for r in s.roles if r not in known_roles]
        problems += [f"{at}.escalate: unknown role {r!r}" for r in s.escalate if r not in ROLES]
        problems += [f"{at}.actions: unknown action {a!r}" for a in s.actions if a not in ACTIONS]
        problems += [f"{at}.grades: unknown grade {g!r}" for g in s.grades if g not in t.grades]
        problems += [f"{at}.gates.checkins: {r!r} is not one of {', '.join(PRESENCE_ROLES)}"
                     for r in s.gates.checkins if r not in PRESENCE_ROLES]
        if s.onsite and s.onsite_waiver:
            problems.append(f"{at}.onsite_waiver: given while onsite = true; a waiver needs onsite = false")
        if s.kind != "gas" and not COMPLETING_ACTIONS & set(s.actions):
            problems.append(f"{at}: the step has no way out (actions {list(s.actions)} "
                            "include neither approve nor confirm)")
        if s.kind == "checklist" and not s.checklist:
            problems.append(f"{at}: a checklist step needs checklist items")
        if "rectify" in s.actions and s.phase != "accept":
            problems.append(f"{at}.actions: rectify belongs to the accept phase only")
        if s.limit_minutes <= 0:
            problems.append(f"{at}.limit_minutes = {s.limit_minutes}: must be positive")
        if s.phase in PHASES:
            index = PHASES.index(s.phase)
            if index < last_phase:
                problems.append(f"{at}.phase = {s.phase!r}: comes after a later phase")
            last_phase = max(last_phase, index)
    for phase in SINGLE_PHASES:
        holders = [s for s in t.steps if s.phase == phase]
        if len(holders) != 1 or holders[0].grades:
            problems.append(f"steps: needs exactly one {phase} step, for every grade")
    return problems


def _statute(t: Template) -> list[str]:
    problems = []
    if t.checkin_minutes > CHECKIN_MINUTES:
        # An older scan no longer shows that the approver or the guardian is at the site.
        problems.append(f"checkin_minutes = {t.checkin_minutes}: looser than GB 30871-2022 4.11 "
                        f"(现场签到 {CHECKIN_MINUTES} 分钟内有效)")
    for s in t.steps:
        if s.phase == "approve" and not s.onsite and not s.onsite_waiver:
            problems.append(f"steps.{s.key}.onsite = false with no onsite_waiver: looser than "
                            "GB 30871-2022 4.11 (审批人应在作业现场审批)")
        if s.phase == "start" and "监护人" not in s.gates.checkins:
            problems.append(f"steps.{s.key}.gates.checkins: must include 监护人, looser than "
                            "GB 30871-2022 4.10 (监护人在作业现场)")
    statute = STATUTES.get(t.code)
    if statute is None:
        return problems  # a plant's own work type: only the general rules apply
    rule = statute.clause
    if t.min_guardians < statute.min_guardians:
        problems.append(f"guardians.min = {t.min_guardians}: looser than {rule} (监护人至少 1 名)")
    start = next(s for s in t.steps if s.phase == "start")
    if not start.gates.guardians:
        problems.append(f"steps.{start.key}.gates.guardians: must be true ({rule}: 监护人在场)")
    problems += _grades(t, statute)
    problems += _gas(t, statute, start)
    if statute.countersign:
        approvals = [s for s in t.steps if s.phase == "approve"]
        if not any(s.mode == "all" for s in approvals[:-1]):
            problems.append(f"steps: needs a 会签 (mode = \"all\") approval before the final one ({rule}: 相关部门会签)")
    if t.validity_special_hours and t.validity_special_hours > TEMP_POWER_SPECIAL_HOURS:
        problems.append(f"validity_special_hours = {t.validity_special_hours}: looser than {rule} (特殊情况不超过30天)")
    return problems


def _grades(t: Template, statute) -> list[str]:
    problems, rule, g = [], statute.clause, t.grading
    if set(t.grades) != set(statute.approver):
        return [f"grades {list(t.grades)}: must be {list(statute.approver)} ({rule})"]
    for grade, role in statute.approver.items():
        chain = [r for s in t.steps if s.phase == "approve" and s.applies_to(grade) for r in s.roles]
        needed = APPROVER_RANK.get(role)
        ranks = [APPROVER_RANK[r] for r in chain if r in APPROVER_RANK]
        if role not in chain and not (needed and ranks and max(ranks) >= needed):
            problems.append(f"approval chain for {grade}: {chain or 'none'} lacks {role} "
                            f"(looser than {rule}: {grade}由{role}审批)")
        limit = statute.validity_hours.get(grade)
        mine = t.validity_hours.get(grade)
        if limit is not None and mine is not None and mine > limit:
            problems.append(f"validity_hours.{grade} = {mine}: looser than {rule} "
                            f"({grade if grade != UNGRADED else ''}作业票有效期不超过 {limit:g} 小时)")
    missing = set(statute.raise_on) - set(g.raise_on)
    if missing:
        problems.append(f"grading.raise_on lacks {sorted(missing)}: looser than {rule} (升级管理)")
    if statute.wind_force and g.wind_force > statute.wind_force:
        problems.append(f"grading.wind_force = {g.wind_force}: looser than {rule} (风力 ≥ 5 级升级)")
    if statute.bands:
        problems += _bands(t, statute)
    return problems


def _bands(t: Template, statute) -> list[str]:
    rule, g = statute.clause, t.grading
    if statute.band_min is not None and (g.min is None or g.min > statute.band_min):
        return [f"grading.min = {g.min}: looser than {rule} (≥ {statute.band_min:g} 即适用)"]
    order = [b.grade for b in statute.bands]
    edges = {x for b in statute.bands for x in (b.max, b.below) if x is not None}
    for probe in sorted({v + d for v in edges for d in (-0.01, 0, 0.01)} | {10_000}):
        mine, law = band_grade(g.bands, probe), band_grade(statute.bands, probe)
        if order.index(mine) < order.index(law):
            return [f"grading.bands: {probe:g} graded {mine}, looser than {rule} ({law})"]
    return []


def _gas(t: Template, statute, start) -> list[str]:
    problems, rule, gr = [], statute.clause, t.gas
    if statute.gas_fresh_minutes is None:
        return problems
    if gr.fresh_minutes is None or gr.fresh_minutes > statute.gas_fresh_minutes:
        problems.append(f"gas.fresh_minutes = {gr.fresh_minutes}: looser than {rule} "
                        f"(作业前 {statute.gas_fresh_minutes} 分钟内取样分析)")
    if not start.gates.gas_fresh:
        problems.append(f"steps.{start.key}.gates.gas_fresh: must be true ({rule}: 开工前气体分析)")
    for grade, limit in statute.retest_minutes.items():
        mine = gr.retest_minutes.get(grade)
        if mine is None or mine > limit:
            problems.append(f"gas.retest_minutes.{grade} = {mine}: looser than {rule} "
                            f"(中断超过 {limit} 分钟须重新分析)")
    if statute.oxygen_range and not gr.oxygen_range:
        problems.append(f"gas.oxygen_range = false: looser than {rule} (氧含量 19.5%–21%)")
    needed = {"EX"} | ({"O2"} if statute.oxygen_range else set())
    if not needed <= set(gr.required):
        problems.append(f"gas.required = {list(gr.required)}: must include {sorted(needed)} ({rule})")
    if statute.log_every_minutes and not 0 < (gr.log_every_minutes or 0) <= statute.log_every_minutes:
        problems.append(f"gas.log_every_minutes = {gr.log_every_minutes}: looser than {rule} "
                        f"(作业中至少每 {statute.log_every_minutes // 60} 小时记录一次气体检测数据)")
    missing = set(statute.continuous_monitoring) - set(gr.continuous)
    if missing:
        problems.append(f"gas.continuous lacks {sorted(missing)}: looser than {rule} (连续监测)")
    try:
        problems += [f"gas.limits.{m}" for m in gas.looser_fields(gas.limits_from(gr.limits))]
    except ValueError as exc:
        problems.append(f"gas.limits: {exc}")
    return problems
