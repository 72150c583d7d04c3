"""Break each rule once, run the tests docs/rules.md names for it, and count what the tests caught.

Each mutation is one realistic slip in a rule module (a boundary off by one, a check narrowed, a
statutory figure changed). It is applied to a scratch copy of the repository, never to the working
tree, and the named tests run against that copy; a mutation that no test fails is a survivor.

    .venv/bin/python scripts/mutate.py            # every mutation
    .venv/bin/python scripts/mutate.py holiday    # only those whose name contains "holiday"

Prints one line per mutation and the figures: tried, killed, survivors, and the harmless ones (a
survivor whose mutation carries the written reason it cannot make the product unsafe). Exit 1 if any
survived without one.
Not part of the suite or CI: it runs pytest once per mutation (a few minutes in all).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
R, T, G = "tests/workflow/test_rules.py", "tests/workflow/test_templates.py", "tests/workflow/test_gas.py"
X, O = "tests/workflow/test_transitions.py", "tests/workflow/test_onsite.py"
N, F = "tests/workflow/test_running.py", "tests/workflow/test_fence.py"
SITE_CODE = ("tests/test_site_code_real_path.py", "-k", "revoked")   # both platforms, end to end
# The finished site's photos: the sample permit's completion and acceptance are signed without one.
FINISHED = (X, "-k", "in_progress-sign or completed-sign or finished_site")
LOANS, ENTRY = "tests/tools/test_loans.py", "tests/training/test_contractor_entry.py"
QUIZ, CONTRACTORS = "tests/training/test_quiz.py", "tests/certs/test_contractors.py"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]     # pytest arguments: files, then optionally "-k", expression
    # Why this slip cannot make the product unsafe, where no test can tell it apart: a survivor with
    # a reason is counted as harmless, not as a survivor.
    harmless: str = ""


MUTATIONS = (
    # workflow/grading.py: the grade raise
    Mutation("holiday-start-day-only", "workflow/grading.py",
             "day, last = local(start, tz).date(), local(end, tz).date()",
             "day = last = local(start, tz).date()", (R, "-k", "holiday or weekend or raised")),
    Mutation("night-end-touching-counts", "workflow/grading.py",
             "if s < night_end and e > night_start:", "if s < night_end and e >= night_start:",
             (R, "-k", "raised or night")),
    Mutation("wind-force-strictly-above", "workflow/grading.py",
             "int(wind) >= g.wind_force", "int(wind) > g.wind_force", (R, "-k", "raised")),
    Mutation("raise-forgotten", "workflow/grading.py",
             "return (_raise(levels, grade) if reasons else grade), reasons", "return grade, reasons",
             (R, "-k", "raised or night or holiday")),
    Mutation("nightfall-a-minute-late", "workflow/grading.py",
             "return at.time() >= nightfall_at(", "return at.time() > nightfall_at(",
             ("tests/workflow/test_running.py", "-k", "nightfall")),
    Mutation("morning-ignored", "workflow/grading.py",
             "        return True   # before the morning", "        return False   # before the morning",
             (R, "tests/workflow/test_running.py", "-k", "night")),
    # workflow/rules.py: the statutory floor
    Mutation("grade-one-approver-lowered", "workflow/rules.py",
             '"一级": "安全管理部门负责人"', '"一级": "基层单位负责人"', (R, T, "-k", "approv")),
    Mutation("special-grade-validity-12h", "workflow/rules.py",
             'validity_hours={"特级": 8,', 'validity_hours={"特级": 12,', (T, "-k", "validity")),
    Mutation("retest-grade-one-60", "workflow/rules.py",
             'retest_minutes={"特级": 30, "一级": 30,', 'retest_minutes={"特级": 30, "一级": 60,',
             (T, "-k", "retest")),
    Mutation("checkin-window-45", "workflow/rules.py",
             "CHECKIN_MINUTES = 30 ", "CHECKIN_MINUTES = 45 ", (T, "-k", "check_in")),
    Mutation("gas-fresh-45", "workflow/rules.py",
             "gas_fresh_minutes=30, retest_minutes={\"特级\"", "gas_fresh_minutes=45, retest_minutes={\"特级\"",
             (T, "-k", "gas")),
    Mutation("temp-power-special-40-days", "workflow/rules.py",
             "TEMP_POWER_SPECIAL_HOURS = 30 * 24", "TEMP_POWER_SPECIAL_HOURS = 40 * 24",
             (T, "-k", "validity")),
    # workflow/gates.py: what the start and approvals demand
    Mutation("gas-age-whole-minutes", "workflow/gates.py",
             "total_seconds() / 60", "total_seconds() // 60", (R, "-k", "gas_test or gas_sample")),
    Mutation("gas-age-at-limit-refused", "workflow/gates.py",
             "if age > limit:", "if age >= limit:", (R, "-k", "gas_test or gas_sample")),
    Mutation("gas-gate-dropped", "workflow/gates.py",
             "    if g.gas_fresh:\n        gas_fresh(", "    if False:\n        gas_fresh(",
             (R, "-k", "gas_test or gas_sample")),
    Mutation("failed-newest-reading-ignored", "workflow/gates.py",
             "    if not newest.passed:", "    if False:", (R, "-k", "failing_gas")),
    Mutation("photos-not-checked", "workflow/gates.py",
             "missing = [k for k in kinds if k not in have]", "missing = []", (R, "-k", "photo")),
    Mutation("valid-until-the-end-inclusive", "workflow/gates.py",
             "if now >= permit.planned_end:", "if now > permit.planned_end:", (R, X, "-k", "valid or expir or planned_end")),
    Mutation("night-gate-dropped", "workflow/gates.py",
             'if permit.attributes.get("night_work") == "否" and after_nightfall(',
             'if False and after_nightfall(', (R, "tests/workflow/test_running.py", "-k", "night")),
    # workflow/onsite.py: on-site approval and presence
    Mutation("checkin-at-limit-lapsed", "workflow/onsite.py",
             "newest.at < now - timedelta(minutes=minutes)", "newest.at <= now - timedelta(minutes=minutes)",
             (R, "-k", "check_in")),
    Mutation("checkout-ignored", "workflow/onsite.py",
             'if newest is None or newest.kind != "in" or', "if newest is None or", (O,)),
    Mutation("approver-site-check-skipped", "workflow/onsite.py",
             '    if valid_check_in(permit, person, now, t.checkin_minutes) is None:\n        raise GateNotMet(f"请先到现场扫码签到（签到',
             '    if False:\n        raise GateNotMet(f"请先到现场扫码签到（签到', (R, "-k", "check_in or on_site")),
    # workflow/engine.py: who signs
    Mutation("any-role-holder-signs", "workflow/engine.py",
             "if ctx.by.id not in {p.id for p in people}:",
             "if not set(d.roles) & ctx.by.role_names():", (R, "-k", "assignee or role_holder")),
    Mutation("self-approval-allowed", "workflow/engine.py",
             'if d.phase == "approve" and ctx.by.id == ctx.permit.applicant_id:',
             "if False:", (R, "-k", "own_permit")),
    Mutation("countersign-settles-on-first", "workflow/engine.py",
             'settles = d.mode == "any" or', "settles = True or", (R, "-k", "countersign")),
    # workflow/drafts.py: what a submit checks
    Mutation("blind-plate-only-in-approval", "workflow/drafts.py",
             "Permit.state.not_in(list(FINAL | {DRAFT}))", 'Permit.state == "in_approval"',
             (R, "-k", "blind")),
    Mutation("validity-at-limit-refused", "workflow/drafts.py",
             "if span > hours:", "if span >= hours:", (R, "-k", "validity or hours")),
    Mutation("special-reason-not-needed", "workflow/drafts.py",
             'if t.validity_special_hours and permit.attributes.get("special_reason"):',
             "if t.validity_special_hours:", (R, "-k", "temp_power")),
    Mutation("worker-may-guard", "workflow/drafts.py", "    if both:\n", "    if False:\n",
             (R, "-k", "guardian")),
    Mutation("applicant-may-guard", "workflow/drafts.py",
             "if permit.applicant_id in {p.id for p in guards}:", "if False:", (R, "-k", "guardian")),
    Mutation("guardian-role-not-checked", "workflow/drafts.py",
             "if role not in person.role_names():", "if False:", (R, "-k", "guardian")),
    # workflow/work.py: re-test after a pause, failed readings, changes
    Mutation("no-retest-on-a-new-day", "workflow/work.py",
             " or new_day or not running.tested_today(permit, ctx.now):", ":",
             (R, "-k", "pause or working_day")),
    Mutation("pause-at-limit-needs-retest", "workflow/work.py",
             "if paused > limit or new_day or", "if paused >= limit or new_day or",
             (R, "-k", "pause or working_day")),
    Mutation("failed-reading-does-not-suspend", "workflow/work.py",
             "elif (stopping or not verdict.passed) and ctx.permit.state == IN_PROGRESS:",
             "elif stopping and ctx.permit.state == IN_PROGRESS:", (R, "-k", "failing_reading")),
    Mutation("grade-raising-change-allowed", "workflow/changes.py",
             "if grade != ctx.permit.grade:", "if False:", (R, X, "-k", "change")),
    # workflow/gas.py: pass limits
    Mutation("lel-split-strict", "workflow/gas.py",
             "if lel >= LEL_SPLIT else", "if lel > LEL_SPLIT else", (G, R, "-k", "lel or gas_pass")),
    Mutation("toxic-at-limit-passes", "workflow/gas.py",
             "value < limit, f\"< {limit:g}", "value <= limit, f\"< {limit:g}", (G, R, "-k", "h2s or co_ or gas_pass")),
    Mutation("oxygen-range-ignored", "workflow/gas.py",
             "if gas == \"O2\" and oxygen_range:", "if False:", (G, R, "-k", "oxygen or gas_pass")),
    Mutation("other-toxic-gas-unlimited", "workflow/gas.py",
             "dict(self.toxic).get(gas, TABLE[gas].oel)", "dict(self.toxic).get(gas, math.inf)",
             (G, "-k", "toxic_gas_passes_only")),
    Mutation("template-toxic-limit-ignored", "workflow/gas.py",
             "dict(self.toxic).get(gas, TABLE[gas].oel)", "TABLE[gas].oel",
             (G, "-k", "other_toxic")),
    Mutation("template-toxic-limit-looser-loads", "workflow/gas.py",
             "(limits.limit_of(code), STATUTORY.limit_of(code)) if code", "(0, 0) if code",
             (G, T, "-k", "other_toxic or looser")),
    Mutation("gas-detector-by-permit-medium", "workflow/gas.py",
             "    if gas != \"EX\":\n        # A detector", "    if False:\n        # A detector", (G, "-k", "hydrogen")),
    # workflow/running.py: work left running
    Mutation("nightfall-ignores-day-work", "workflow/running.py",
             'if permit.attributes.get("night_work") != "否" or', "if True or",
             ("tests/workflow/test_running.py", "-k", "nightfall")),
    Mutation("reading-interval-at-limit-stops", "workflow/running.py",
             "if ctx.now > deadline:", "if ctx.now >= deadline:", ("tests/workflow/test_running.py", "-k", "reading")),
    Mutation("reading-reminded-every-scan", "workflow/running.py",
             " or _reminded_since(permit, last):", ":", ("tests/workflow/test_running.py", "-k", "reading")),
    Mutation("day-hold-ignores-todays-test", "workflow/running.py",
             " or tested_today(permit, ctx.now)):", "):", ("tests/workflow/test_running.py", "-k", "day or midnight")),
    Mutation("resume-ignores-the-day-hold", "workflow/work.py",
             " or not running.tested_today(permit, ctx.now):", ":", ("tests/workflow/test_running.py", "-k", "day")),
    # workflow/validate.py: a template may not loosen the statute
    Mutation("template-checkin-unchecked", "workflow/validate.py",
             "if t.checkin_minutes > CHECKIN_MINUTES:", "if False:", (T, "-k", "check_in")),
    Mutation("template-retest-unchecked", "workflow/validate.py",
             "if mine is None or mine > limit:", "if mine is None:", (T, "-k", "retest")),
    Mutation("template-reading-interval-unchecked", "workflow/validate.py",
             "<= statute.log_every_minutes:", "<= 10 * statute.log_every_minutes:",
             ("tests/workflow/test_running.py", "-k", "interval")),
    # workflow/onsite.py, places.py: a check-in at a fenced site is checked against its position
    Mutation("fence-skipped", "workflow/onsite.py",
             "        _within_fence(ctx.permit, where, source)\n", "", (F,)),
    Mutation("fence-diameter-for-radius", "workflow/onsite.py",
             "if away > fence.radius:", "if away > 2 * fence.radius:", (F,)),
    Mutation("fence-scan-without-position-passes", "workflow/onsite.py",
             "        if source not in LOCATED_SOURCES:\n            return\n", "        return\n", (F,)),
    Mutation("fence-lat-lng-swapped", "workflow/onsite.py",
             "fence.latitude, fence.longitude)\n", "fence.longitude, fence.latitude)\n", (F,)),
    Mutation("fence-own-node-only", "workflow/places.py",
             "        node = node.parent\n    return None", "        node = None\n    return None", (F,)),
    Mutation("distance-halved", "workflow/places.py",
             "return 2 * EARTH_RADIUS_M * asin(", "return EARTH_RADIUS_M * asin(", (F,)),
    # workflow/site_code.py: one permit's posted code revoked alone
    Mutation("reissue-keeps-the-old-code", "workflow/site_code.py",
             "ctx.permit.site_code_round += 1", "ctx.permit.site_code_round += 0", SITE_CODE),
    Mutation("reissue-by-anyone", "workflow/site_code.py",
             "if by.id != ctx.permit.applicant_id and not", "if False and not", SITE_CODE),
    # workflow/datum.py: DingTalk's GCJ-02 turned back into GPS before the distance
    Mutation("gcj02-not-converted", "workflow/onsite.py", 'if datum == "gcj02":', "if False:", (F,)),
    Mutation("gcj02-converted-the-wrong-way", "workflow/onsite.py",
             "from .datum import gcj02_to_wgs84\n        lat, lng = gcj02_to_wgs84(lat, lng)",
             "from .datum import wgs84_to_gcj02\n        lat, lng = wgs84_to_gcj02(lat, lng)", (F,)),
    Mutation("gcj02-one-step", "workflow/datum.py", "for _ in range(10):", "for _ in range(1):", (F, "-k", "gcj02")),
    # workflow/gates.py: the finished site's photos at completion and acceptance
    Mutation("finished-photo-from-before-the-start", "workflow/gates.py",
             "    have = _photo_kinds(permit, permit.started_at if later else None)\n    missing",
             "    have = _photo_kinds(permit, None)\n    missing", FINISHED),
    Mutation("acceptance-photo-not-after-start", "workflow/gates.py",
             'AFTER_START = ("work", "accept", "close")', 'AFTER_START = ("work",)', FINISHED),
    Mutation("finished-photos-not-checked", "workflow/gates.py",
             "    if g.photos:\n        photos(", "    if g.photos and step.phase == \"start\":\n        photos(",
             FINISHED),
    # nightfall: the season and the scan
    Mutation("nightfall-first-season-kept", "workflow/grading.py", "            chosen = at\n",
             "            chosen = chosen or at\n", (N, "-k", "nightfall or season")),
    Mutation("nightfall-season-starts-a-day-late", "workflow/grading.py",
             "if (month, dom) <= (day.month, day.day):", "if (month, dom) < (day.month, day.day):",
             (N, "-k", "nightfall or season")),
    Mutation("nightfall-scan-ignores-the-season", "workflow/running.py",
             "templates.get(Permit.get(Permit.no == no).work_type), plant.plant_tz,\n                              plant.nightfall)",
             "templates.get(Permit.get(Permit.no == no).work_type), plant.plant_tz,\n                              ())",
             (N, "-k", "nightfall or season")),
    # the confined-space reading every 2 h
    Mutation("reading-clock-from-the-start-only", "workflow/running.py",
             "(newest.taken_at if newest else None, permit.started_at)", "(None, permit.started_at)",
             (N, "-k", "reading")),
    Mutation("reading-reminder-5-minutes-before", "workflow/running.py",
             "READING_REMIND_MINUTES = 15 ", "READING_REMIND_MINUTES = 5 ", (N, "-k", "reading")),
    # the daily re-test
    Mutation("working-day-starts-at-utc-midnight", "workflow/running.py",
             "midnight = local(now, tz).replace(hour=0", "midnight = now.replace(tzinfo=timezone.utc).replace(hour=0",
             (N, "-k", "day or midnight")),
    Mutation("failed-reading-counts-as-todays-test", "workflow/running.py",
             "where((GasReading.permit == permit) & (GasReading.passed == True)  # noqa: E712\n",
             "where((GasReading.permit == permit)\n", (N, R, "-k", "day or midnight or working_day")),
    # tools/loans.py: a safety tool in test, held by someone on the permit
    Mutation("tools-gate-dropped", "workflow/gates.py", "    if g.tools:\n", "    if False:\n", (LOANS, R, "-k", "tool or harness")),
    Mutation("expired-tool-accepted", "tools/loans.py",
             "good = [t for t in held if not expired(t, at)]", "good = held", (LOANS,)),
    Mutation("tool-due-day-refused", "tools/loans.py", "return today(at) > tool.due_on", "return today(at) >= tool.due_on",
             (LOANS,)),
    Mutation("tool-held-by-anyone", "tools/loans.py", "Tool.holder.in_(crew)", "Tool.holder.is_null(False)", (LOANS,)),
    # training: a quiz pass authorises; a contractor works only with a current entry pass and authorisation
    Mutation("quiz-pass-mark-exclusive", "training/quiz.py",
             "PASSED if score >= attempt.course.pass_mark", "PASSED if score > attempt.course.pass_mark",
             (QUIZ, ENTRY)),
    Mutation("entry-pass-never-expires", "certs/contractors.py",
             "    if best.valid_until < local_day(at):\n        return f\"的{kind}", "    if False:\n        return f\"的{kind}",
             (ENTRY,)),
    Mutation("revoked-entry-pass-counts", "certs/contractors.py",
             "& (Certificate.kind == kind)\n                                       & Certificate.revoked_at.is_null())",
             "& (Certificate.kind == kind))", (ENTRY,)),
    Mutation("authorisation-end-ignored", "certs/contractors.py",
             "if any(all(_covers(a, permit)) and a.valid_to >= local_day(at) for a in current):",
             "if any(all(_covers(a, permit)) for a in current):", (CONTRACTORS,),
             harmless="implied by _covers: the authorisation must last to the permit's planned end, and the "
                      "hook runs only up to it (submit, approvals, changes, the start; the window gate and "
                      "the expiry scan end everything later)"),
    Mutation("revoked-authorisation-counts", "certs/contractors.py",
             "current = f\"{person.name}（{role}，承包商）\", [a for a in held if a.revoked_at is None]",
             "current = f\"{person.name}（{role}，承包商）\", held", (CONTRACTORS,)),
)


def scratch_copy(into: Path) -> Path:
    """Copy the repository (code and tests) into a fresh folder beside a link to ../shared."""
    copy = into / ROOT.name
    shutil.copytree(ROOT, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "instance", "*.db"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    (into / "shared").symlink_to(ROOT.parent / "shared")
    return copy


def run(copy: Path, m: Mutation) -> str:
    """Apply m to the copy, run its tests, put the file back; return killed, survived or stale."""
    target = copy / m.file
    original = target.read_text(encoding="utf-8")
    if original.count(m.old) != 1:
        return "stale"   # the code moved: the mutation no longer matches exactly one place
    target.write_text(original.replace(m.old, m.new), encoding="utf-8")
    try:
        done = subprocess.run([str(copy / ".venv/bin/python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               *m.tests], cwd=copy, capture_output=True, text=True)
    finally:
        target.write_text(original, encoding="utf-8")
    if done.returncode == 5:
        return "stale"   # no test selected: the named tests were renamed
    return "killed" if done.returncode != 0 else "survived"


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    results: dict[str, list[str]] = {"killed": [], "survived": [], "harmless": [], "stale": []}
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        copy = scratch_copy(Path(tmp))
        for m in chosen:
            verdict = run(copy, m)
            if verdict == "survived" and m.harmless:
                verdict = "harmless"
            results[verdict].append(m.name)
            print(f"{verdict:8}  {m.name:34}  {m.file}", flush=True)
    print(f"\ntried {len(chosen)}, killed {len(results['killed'])}, survivors {len(results['survived'])}"
          + (f", harmless {len(results['harmless'])}" if results["harmless"] else "")
          + (f", stale {len(results['stale'])}" if results["stale"] else ""))
    for name in results["survived"]:
        print(f"  survivor: {name}")
    reasons = {m.name: m.harmless for m in chosen}
    for name in results["harmless"]:
        print(f"  harmless: {name}: {reasons[name]}")
    for name in results["stale"]:
        print(f"  stale (fix the mutation): {name}")
    return 1 if results["survived"] or results["stale"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
