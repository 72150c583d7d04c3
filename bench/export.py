"""The ledger export over many permits, beside bare openpyxl write-only writing the same cells.

    python bench/export.py            # 2 000 and 10 000 permits, a few minutes on 2 cores
    python bench/export.py --full     # 10 000 and 100 000 permits, the README's figures (about 30 minutes)
    python bench/export.py --sizes 5000,20000

What it measures. `exports.build.build_ledger` end to end, as `python app.py export ledger` runs it: the
count queries, the keyset pages of permits with their members, signatures (joined to their steps and
signers), the reading at start and the suspensions, every value turned into plant time and Chinese, and
the four streamed sheets (作业票台账, 签字明细, 气体检测记录, 报警记录) with title blocks, widths, frozen
panes and filters, saved to disk.

The floor, in the same run: bare openpyxl write-only appending the very same data rows (recorded from an
unmeasured run of the export, then replayed page by page from a local pickle stream, so the floor's
memory stays flat too) into sheets of the same names, and saving. No queries, no formatting, no title
block: what writing the cells costs at the least.

Each measurement runs in a fresh child process (`--child`), so its peak RSS (ru_maxrss) is its own; the
baseline (the interpreter with its imports, before any work) is printed beside the peak.

How the rows are made. One hot-work permit (一级, 12 steps, 13 signatures, 2 gas readings) is taken to
closed by the engine (`walkthrough.run_to_close`); the others are copies: the permits with `insert_many`,
their members, steps, signatures and readings with INSERT … SELECT, every timestamp shifted by a day per
copy (so the plant-time conversion sees a year of distinct days, as a real ledger does), and one
acknowledged alarm per 100 permits. A larger size adds copies to the same database.

SQLite only (a temporary file). The last line is `ratio=<ours / floor at the largest size> target<=1.3`.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import support  # noqa: E402  (bench/ is on the path when a bench runs)

TARGET = 1.3
DEFAULT_SIZES, FULL_SIZES = (2_000, 10_000), (10_000, 100_000)
SAMPLE_ORG = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
START = datetime(2026, 1, 6, 0, 0)    # 08:00 plant time on a Tuesday; the copies spread over 300 days
DAYS = 300
PERIOD = ("2026-01-01", "2026-12-31")
BATCH = 1000
CHUNK = 1000                          # rows per pickle record of the floor's replay stream
ALARM_EVERY = 100
REPEAT, SMALL = 3, 20_000            # runs per size up to SMALL permits; one above (100 k takes minutes)


# -- building the database --------------------------------------------------------------------------------

def _shift(column: str) -> str:
    """SQL for column moved on by the copy's day offset, its permit id mod DAYS."""
    return f"datetime({column}, '+' || (p.id % {DAYS}) || ' days')"


def _copy_children(db, template: int, lo: int, hi: int) -> None:
    """Copy the template permit's members, steps, signatures and readings to permits lo..hi."""
    step_times = ", ".join(_shift(f"s.{c}") for c in ("activated_at", "due_at", "completed_at"))
    db.execute_sql(f"""INSERT INTO permit_member (permit_id, person_id, role)
        SELECT p.id, m.person_id, m.role FROM permit_member m, permit p
        WHERE m.permit_id = {template} AND p.id BETWEEN {lo} AND {hi} ORDER BY p.id, m.id""")
    db.execute_sql(f"""INSERT INTO step (permit_id, key, seq, name, phase, state, round, activated_at, due_at,
            completed_at, remind_at, escalate_at, escalation_level)
        SELECT p.id, s.key, s.seq, s.name, s.phase, s.state, s.round, {step_times}, NULL, NULL, s.escalation_level
        FROM step s, permit p WHERE s.permit_id = {template} AND p.id BETWEEN {lo} AND {hi} ORDER BY p.id, s.seq""")
    db.execute_sql(f"""INSERT INTO signature (permit_id, step_id, round, person_id, decision, comment, evidence,
            channel, signed_at)
        SELECT p.id, ns.id, g.round, g.person_id, g.decision, g.comment, g.evidence, g.channel, {_shift('g.signed_at')}
        FROM signature g JOIN step ts ON g.step_id = ts.id JOIN step ns ON ns.key = ts.key
        JOIN permit p ON ns.permit_id = p.id
        WHERE g.permit_id = {template} AND p.id BETWEEN {lo} AND {hi} ORDER BY p.id, g.id""")
    db.execute_sql(f"""INSERT INTO gas_reading (permit_id, device, tester_id, taken_at, recorded_at, o2, ex, h2s, co,
            location_note, passed, verdict)
        SELECT p.id, r.device, r.tester_id, {_shift('r.taken_at')}, {_shift('r.recorded_at')}, r.o2, r.ex,
            r.h2s, r.co, r.location_note, r.passed, r.verdict
        FROM gas_reading r, permit p WHERE r.permit_id = {template} AND p.id BETWEEN {lo} AND {hi}
        ORDER BY p.id, r.id""")


def _grow(db, template, count: int) -> None:
    """Add count copies of the template permit, with their children and an alarm per ALARM_EVERY."""
    from peewee import fn
    from models import Alarm, transaction
    from models.permit import Permit
    row = Permit.select().where(Permit.id == template.id).dicts().get()
    del row["id"]
    fields = [f for f in Permit._meta.sorted_fields if f.name != "id"]
    first = (Permit.select(fn.MAX(Permit.id)).scalar() or 0) + 1
    times = ("planned_start", "planned_end", "created_at", "submitted_at", "issued_at", "started_at",
             "completed_at", "closed_at")
    rows = []
    for permit_id in range(first, first + count):
        days = timedelta(days=permit_id % DAYS)
        # Unique: two copies on the same day are DAYS ids apart, so their sequence numbers differ.
        seq = permit_id // DAYS + 1001
        rows.append({**row, **{t: row[t] + days for t in times if row[t]},
                     "no": f"DH-{(START + days).date():%Y%m%d}-{seq:04d}"})
    with transaction():
        for k in range(0, len(rows), BATCH):
            Permit.insert_many([tuple(r[f.name] for f in fields) for r in rows[k:k + BATCH]], fields=fields).execute()
    lo, hi = first, Permit.select(fn.MAX(Permit.id)).scalar()
    assert hi - lo + 1 == count
    with transaction():
        for a in range(lo, hi + 1, 10_000):
            _copy_children(db, template.id, a, min(hi, a + 9_999))
        alarms = []
        for permit_id, no, started in (Permit.select(Permit.id, Permit.no, Permit.started_at)
                                       .where(Permit.id.between(lo, hi)).tuples()):
            if permit_id % ALARM_EVERY:
                continue
            at = started + timedelta(hours=1)
            alarms.append({"device": None, "level": "一级", "gas": "EX", "value": 30.0, "text": "人工检测：可燃气体 30 %LEL",
                           "area": "", "permit_nos": [no], "suspended": [], "recipients": [template.applicant_id],
                           "reading_at": at, "raised_at": at,
                           "acknowledged_at": at + timedelta(seconds=40 + permit_id % 90),
                           "acknowledged_by": template.applicant_id, "rounds": 1})
        for k in range(0, len(alarms), BATCH):
            Alarm.insert_many(alarms[k:k + BATCH]).execute()


def _counts() -> dict:
    from models import Alarm, GasReading, Signature
    from models.permit import Permit
    return {"permits": Permit.select().count(), "signatures": Signature.select().count(),
            "readings": GasReading.select().count(), "alarms": Alarm.select().count()}


# -- the measured children ---------------------------------------------------------------------------------

def _peak_mb() -> float:
    """Return this process's peak RSS in MB.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent, which here holds
    the whole database build, so every child would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args) -> None:
    """Run one measurement in this fresh process and print it as JSON."""
    import settings
    import models
    from exports.build import build_ledger
    from exports.period import between
    from exports.run import Run
    from exports.scope import Scope
    from openpyxl import Workbook
    settings.configure()
    models.connect(settings.current().database_url)
    baseline = _peak_mb()
    began = time.perf_counter()
    if args.child == "ours":
        built = build_ledger(Scope(between(*PERIOD)), Path(args.out), Run.current())
        rows = built.rows
    elif args.child == "record":
        rows = _record(Path(args.out), Path(args.stream))
    else:
        book, sheets, rows = Workbook(write_only=True), {}, {}
        with open(args.stream, "rb") as stream:
            headers = pickle.load(stream)
            for name, header in headers:
                sheets[name] = book.create_sheet(name)
                sheets[name].append(header)
                rows[name] = 0
            while True:
                try:
                    chunk = pickle.load(stream)
                except EOFError:
                    break
                for name, row in chunk:
                    sheets[name].append(row)
                    rows[name] += 1
        book.save(args.out)
    print(json.dumps({"seconds": time.perf_counter() - began, "peak_mb": _peak_mb(), "baseline_mb": baseline,
                      "rows": rows, "size": os.path.getsize(args.out)}))


def _record(out: Path, stream_path: Path) -> dict:
    """Run the export once, recording every data row with the sheet (part) it went to, for the floor."""
    from exports import sheet as sheets
    from exports.build import build_ledger
    from exports.period import between
    from exports.run import Run
    from exports.scope import Scope
    stream, pending, headers = open(stream_path, "wb"), [], []
    real_open, real_append = sheets.Sheet._open_part, sheets.Sheet.append

    def open_part(self, ws=None):
        real_open(self, ws)
        headers.append((self.ws.title, [c.header for c in self.columns]))

    def append(self, row):
        real_append(self, row)
        pending.append((self.ws.title, list(row)))
        if len(pending) >= CHUNK:
            pickle.dump(list(pending), stream, protocol=pickle.HIGHEST_PROTOCOL)
            pending.clear()
    sheets.Sheet._open_part, sheets.Sheet.append = open_part, append
    built = build_ledger(Scope(between(*PERIOD)), out, Run.current())
    stream.close()
    # The headers go first: rewrite the stream with them in front (the floor creates sheets from them).
    with open(stream_path, "rb") as body:
        data = body.read()
    with open(stream_path, "wb") as final:
        pickle.dump(headers, final, protocol=pickle.HIGHEST_PROTOCOL)
        final.write(data)
        if pending:
            pickle.dump(list(pending), final, protocol=pickle.HIGHEST_PROTOCOL)
    return built.rows


def _measure(kind: str, folder: Path, env: dict) -> dict:
    out = folder / f"{kind}.xlsx"
    result = subprocess.run([sys.executable, __file__, "--child", kind, "--out", str(out),
                             "--stream", str(folder / "rows.pickle")],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"bench/export.py: the {kind} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the run --------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10 000 and 100 000 permits (the README's figures)")
    parser.add_argument("--sizes", help="comma-separated permit counts, ascending (overrides --full)")
    parser.add_argument("--repeat", type=int, default=0,
                        help=f"runs of each per size (default {REPEAT} up to {SMALL:,} permits, 1 above)")
    parser.add_argument("--child", choices=["ours", "floor", "record"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else FULL_SIZES if args.full else DEFAULT_SIZES
    if list(sizes) != sorted(sizes) or sizes[0] < 2:
        parser.error("--sizes must be ascending counts of at least 2")
    if os.environ.get("DATABASE_URL", "sqlite").split(":")[0] not in ("sqlite", ""):
        sys.exit("bench/export.py runs on a temporary SQLite file; unset DATABASE_URL")
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    env = {**os.environ, "INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}"}
    os.environ.update(env)
    try:
        return _run(sizes, folder, env, chosen=bool(args.sizes), full=args.full, repeat=args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(sizes, folder: Path, env: dict, *, chosen: bool, full: bool, repeat: int) -> int:
    import logging
    import lxml
    import openpyxl
    import settings
    import models
    from exports.org_import import load_org
    from models.schema import upgrade
    from openpyxl.xml import LXML
    from workflow.walkthrough import run_to_close
    logging.disable(logging.INFO)
    settings.configure()
    from app import wire_gates
    wire_gates()   # the engine runs here without an app; its gates still need their checks
    db = models.connect(settings.current().database_url)
    upgrade()
    load_org(SAMPLE_ORG)
    template = run_to_close("hot_work", start=START)
    print("bench/export.py: the ledger export (python app.py export ledger) beside bare openpyxl write-only "
          "writing the same cells")
    print(f"database: sqlite (temporary file, WAL); writer: openpyxl {openpyxl.__version__} write-only, "
          f"{'lxml ' + lxml.__version__ if LXML else 'et_xmlfile (no lxml)'}; each run in a fresh process")
    if chosen:
        print(f"sizes: {', '.join(f'{n:,}' for n in sizes)} permits (--sizes)")
    elif full:
        print("sizes: 10,000 and 100,000 permits (--full, the README's figures)")
    else:
        print("sizes: 2,000 and 10,000 permits (the default, a few minutes); "
              "run with --full for 10,000 and 100,000 (about 30 minutes)")
    print(f"times: the fastest of {REPEAT} alternating runs up to {SMALL:,} permits, one run above "
          f"(--repeat to change); peak RSS: the largest of the runs")
    print(f"{'permits':>8} {'signatures':>11} {'readings':>9} {'alarms':>7} {'cells':>10} "
          f"{'ours s':>8} {'floor s':>8} {'ratio':>6} {'ours peak MB':>13} {'floor peak MB':>14} {'file MB':>8}")
    results, have = [], 1
    for size in sizes:
        support.phase(f"growing the database to {size:,} permits")
        built_at = time.perf_counter()
        _grow(db, template, size - have)
        have = size
        counts, build_s = _counts(), time.perf_counter() - built_at
        db.close()
        recorded = _measure("record", folder, env)
        expected = {"作业票台账": counts["permits"], "签字明细": counts["signatures"],
                    "气体检测记录": counts["readings"], "报警记录": counts["alarms"]}
        if recorded["rows"] != expected:
            sys.exit(f"check FAILED: the export wrote {recorded['rows']}, the database holds {expected}")
        # Alternate the order, so neither always runs on a warmer page cache; keep each one's fastest run,
        # the one least disturbed by whatever else the machine was doing.
        runs = {"ours": [], "floor": []}
        for rep in range(repeat if repeat else (REPEAT if size <= SMALL else 1)):
            for kind in (("ours", "floor") if rep % 2 == 0 else ("floor", "ours")):
                support.phase(f"{size:,} permits: {kind}, run {rep + 1}")
                runs[kind].append(_measure(kind, folder, env))
        ours, floor = (min(runs[kind], key=lambda r: r["seconds"]) for kind in ("ours", "floor"))
        for kind, best in (("ours", ours), ("floor", floor)):
            best["peak_mb"] = max(r["peak_mb"] for r in runs[kind])
            best["all"] = [r["seconds"] for r in runs[kind]]
        if ours["rows"] != expected or sum(floor["rows"].values()) != sum(expected.values()):
            sys.exit(f"check FAILED: ours wrote {ours['rows']}, the floor {floor['rows']}, "
                     f"the database holds {expected}")
        cells = _cells(folder / "rows.pickle")
        ratio = ours["seconds"] / floor["seconds"]
        results.append((size, ours, floor, ratio))
        print(f"{counts['permits']:>8,} {counts['signatures']:>11,} {counts['readings']:>9,} {counts['alarms']:>7,} "
              f"{cells:>10,} {ours['seconds']:>8.1f} {floor['seconds']:>8.1f} {ratio:>6.2f} "
              f"{ours['peak_mb']:>6.0f} (+{ours['peak_mb'] - ours['baseline_mb']:>3.0f}) "
              f"{floor['peak_mb']:>7.0f} (+{floor['peak_mb'] - floor['baseline_mb']:>3.0f}) "
              f"{ours['size'] / 1048576:>8.1f}")
        print(f"{'':>8} runs s: ours {' '.join(f'{x:.1f}' for x in ours['all'])}, floor "
              f"{' '.join(f'{x:.1f}' for x in floor['all'])}; database built in {build_s:.0f} s")
    (small, s_ours, s_floor, _), (large, l_ours, l_floor, ratio) = results[0], results[-1]
    print("check: every run wrote one ledger row per permit and one row per signature, reading and alarm "
          "in the database")
    print(f"peak RSS from {small:,} to {large:,} permits ({large // small}x the rows): ours "
          f"{s_ours['peak_mb']:.0f} → {l_ours['peak_mb']:.0f} MB ({l_ours['peak_mb'] - s_ours['peak_mb']:+.0f} MB), "
          f"floor {s_floor['peak_mb']:.0f} → {l_floor['peak_mb']:.0f} MB "
          f"({l_floor['peak_mb'] - s_floor['peak_mb']:+.0f} MB); "
          f"(+N) is above each process's baseline before any work")
    print(f"ratio={ratio:.2f} target<={TARGET:g}")
    return 0


def _cells(stream_path: Path) -> int:
    total = 0
    with open(stream_path, "rb") as stream:
        headers = pickle.load(stream)
        total += sum(len(h) for _, h in headers)
        while True:
            try:
                total += sum(sum(v is not None for v in row) for _, row in pickle.load(stream))
            except EOFError:
                return total


if __name__ == "__main__":
    sys.exit(main())
