"""The escalation scan over a large history, beside the same scan over a database holding only what is due.

    python bench/escalation_scan.py [--closed N] [--overdue M] [--repeat R] [--force]

What it measures. `workflow.deadlines.escalate_due(now)` end to end: the indexed query for active steps
whose `escalate_at` has come, then one transaction per item (lock the permit, check the step, find the
next role in the chain, add the escalated assignees, audit event, outbox rows). A scan handles at most
`deadlines.BATCH` (500) items, as each scheduler tick does, so the measured drain is the successive calls
until one finds nothing: with 1000 overdue steps, 500 + 500 + an empty call.

Two databases, built the same way and measured in the same run, alternately:
- big: 100 k closed hot-work permits (each with its 12 steps, 11 done and 1 skipped, every timer NULL, their
  step assignees and crew/guardian members) and then the 1 k overdue permits;
- floor: the same 1 k overdue permits alone.
The 1 k are in approval, their first step (作业计划, 郑计's) active since before its 120-minute limit, with its
assignee row for the current round, so each escalation reaches the unit heads (基层单位负责人) and tells
the applicant. Their deadlines are spread over some 3.6 hours, so `ORDER BY escalate_at` has work to do.

How the rows are made. A few permits are made by the engine: one taken through every step to closed
(`walkthrough.run_to_close`) and one drafted and submitted (`walkthrough.draft` + `engine.submit`). The
rest are copies of them: permits with peewee `insert_many` in batches of 1000, and the closed permits'
steps, assignees and members with `insert_from` (INSERT ... SELECT from the template's rows, 10 000
permits per statement), the permits in one transaction and their children in another. That loads the
1.2 M step rows in seconds even on SQLite, where insert_many took a minute for them. The copies share
the template's timestamps; only their numbers differ (DH-<day>-<seq>, 90 a day going back about three
years). The closed permits' audit events and outbox rows are not loaded: escalation only inserts into
those tables (behind the single audit head row) and never reads their history.

Between repetitions the 1 k are put back as they were: escalate_at back to due_at, escalation level 0,
the escalated assignee rows deleted, the new outbox rows and audit events deleted and the audit head
rewound to the last kept event. On PostgreSQL, `VACUUM ANALYZE` then clears the dead rows, as autovacuum
would in a database scanned every 30 s; the SQLite database is never ANALYZEd, as the app never does.
Each repetition times the due query alone (`deadlines._due(Step.escalate_at, now)`, the first 500 of the
1 k) several times, then the drain once. One unmeasured warm-up repetition per database comes first.

Setup: a temporary folder holding two SQLite files, or, with DATABASE_URL (PostgreSQL), two schemas,
`bench_escalation_big` and `bench_escalation_floor`, in that database, reached through `search_path`;
the project's own tables (schema `public`) are not touched. WARNING: the bench DROPS and recreates
those two schemas, and drops them again at the end, so it refuses a database whose name is not `test`
or `bench` unless --force. No Redis is needed: the scan only writes the outbox.

The last line is `ratio=<big median drain / floor median drain> target<=<TARGET>`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import support  # noqa: E402  (bench/ is on the path when a bench runs)

# Every scan is an indexed query for due items only, so its cost grows with the number of due items,
# not with the history. The big database differs from the floor only by 100 k closed permits
# (about 3 M rows with their steps, assignees and members) that the scan must never read. Every
# statement per item is a primary-key or unique-index lookup or insert, whose cost grows with the log
# of the table size; twice the floor is what deeper B-trees and a larger working set may cost, beyond
# that the scan is reading history (a full or partial scan of steps or permits).
TARGET = 2.0
SAFE_DATABASE_NAMES = ("test", "bench")
SCHEMAS = {"big": "bench_escalation_big", "floor": "bench_escalation_floor"}
SAMPLE_ORG = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
START = datetime(2026, 11, 24, 0, 0)  # the overdue permits' planned start: 08:00 plant time, a Tuesday
PER_DAY = 90                          # closed copies numbered per day, going back from the templates' day
SPREAD = timedelta(seconds=13)        # between the overdue copies' activation times
PERMIT_BATCH = 1000                   # rows per insert_many (SQLite allows 32 766 variables a statement)
COPY_CHUNK = 10_000                   # permits per INSERT ... SELECT


# -- setup -----------------------------------------------------------------------------------------------

def _database_url(force: bool) -> str:
    """Return DATABASE_URL once it is safe to drop the bench's schemas in it; "" for SQLite files."""
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return ""
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        sys.exit(f"bench/escalation_scan.py runs on SQLite or PostgreSQL, not {parsed.scheme}")
    name = parsed.path.lstrip("/")
    if name not in SAFE_DATABASE_NAMES and not force:
        sys.exit(f"bench/escalation_scan.py drops and recreates the schemas {', '.join(SCHEMAS.values())} in "
                 f"DATABASE_URL; its database is {name!r}, not one of {', '.join(SAFE_DATABASE_NAMES)}. "
                 f"Use --force to run anyway.")
    return url


def _with_search_path(url: str, schema: str) -> str:
    """Return url with every connection's search_path set to schema (libpq's options parameter)."""
    return f"{url}{'&' if '?' in url else '?'}options=-c%20search_path%3D{schema}"


@dataclass
class Store:
    """One of the two databases, and what it takes to put its overdue steps back as they were."""
    name: str
    url: str
    db: object = None
    pg: bool = False
    closed: int = 0
    overdue_steps: list[int] = field(default_factory=list)
    step_key: str = ""
    now: datetime | None = None
    outbox_id: int = 0
    audit_seq: int = 0
    audit_hash: str = ""
    rows: dict = field(default_factory=dict)
    built_s: float = 0.0
    drains: list[float] = field(default_factory=list)
    queries: list[float] = field(default_factory=list)


def _use(store: Store) -> None:
    """Bind the models to store's database."""
    from models import database
    database.initialize(store.db)


def _recreate_schemas(url: str) -> None:
    from playhouse.db_url import connect as connect_url
    admin = connect_url(url)
    for schema in SCHEMAS.values():
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute_sql(f'CREATE SCHEMA "{schema}"')
    admin.close()


def _drop_schemas(url: str) -> None:
    from playhouse.db_url import connect as connect_url
    admin = connect_url(url)
    for schema in SCHEMAS.values():
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


def _numbers(template_no: str) -> tuple[str, date]:
    """Split DH-20261124-0001 into ("DH", 2026-11-24)."""
    prefix, day, _ = template_no.split("-")
    return prefix, datetime.strptime(day, "%Y%m%d").date()


def _insert_permits(rows: list[dict]) -> tuple[int, int]:
    """Insert permit rows (dicts without id) in batches; return the (first, last) id they got."""
    from peewee import fn
    from models import transaction
    from models.permit import Permit
    fields = [f for f in Permit._meta.sorted_fields if f.name != "id"]
    before = Permit.select(fn.MAX(Permit.id)).scalar() or 0
    with transaction():
        for k in range(0, len(rows), PERMIT_BATCH):
            Permit.insert_many([tuple(r[f.name] for f in fields) for r in rows[k:k + PERMIT_BATCH]],
                               fields=fields).execute()
    lo, hi = before + 1, Permit.select(fn.MAX(Permit.id)).scalar()
    # One session, no other writer in this database: the ids are consecutive.
    assert hi - lo + 1 == len(rows) == Permit.select().where(Permit.id.between(lo, hi)).count()
    return lo, hi


def _copy_children(template_id: int, lo: int, hi: int, *, steps: bool) -> None:
    """Copy the template permit's members (and steps with their assignees) to permits lo..hi."""
    from models import PermitMember, Step, StepAssignee, transaction
    from models.permit import Permit
    P, S, TS, TA, TM = Permit.alias(), Step, Step.alias(), StepAssignee.alias(), PermitMember.alias()
    step_cols = [S.key, S.seq, S.name, S.phase, S.state, S.round, S.activated_at, S.due_at,
                 S.completed_at, S.remind_at, S.escalate_at, S.escalation_level]
    with transaction():
        for a in range(lo, hi + 1, COPY_CHUNK):
            b = min(hi, a + COPY_CHUNK - 1)
            PermitMember.insert_from(
                TM.select(P.id, TM.person, TM.role).from_(TM, P)
                .where((TM.permit == template_id) & P.id.between(a, b)).order_by(P.id, TM.id),
                [PermitMember.permit, PermitMember.person, PermitMember.role]).execute()
            if not steps:
                continue
            Step.insert_from(
                S.select(P.id, *step_cols).from_(S, P)
                .where((S.permit == template_id) & P.id.between(a, b)).order_by(P.id, S.seq),
                [Step.permit, *[getattr(Step, c.name) for c in step_cols]]).execute()
            StepAssignee.insert_from(
                S.select(S.id, TA.person, TA.round, TA.reason).from_(S, TS, TA)
                .where(S.permit.between(a, b) & (TS.permit == template_id) & (TS.key == S.key)
                       & (TA.step == TS.id)).order_by(S.id, TA.id),
                [StepAssignee.step, StepAssignee.person, StepAssignee.round, StepAssignee.reason]).execute()


def _load_closed(count: int) -> None:
    """Make one closed permit with the engine, then count - 1 copies of it with their children."""
    from models.permit import Permit
    from workflow.walkthrough import run_to_close
    template = run_to_close("hot_work", start=START)
    assert template.state == "closed"
    prefix, day = _numbers(template.no)
    row = Permit.select().where(Permit.id == template.id).dicts().get()
    del row["id"]
    rows = [{**row, "no": f"{prefix}-{day - timedelta(days=1 + i // PER_DAY):%Y%m%d}-{i % PER_DAY + 1:04d}"}
            for i in range(count - 1)]
    if rows:
        lo, hi = _insert_permits(rows)
        _copy_children(template.id, lo, hi, steps=True)


def _load_overdue(store: Store, count: int) -> None:
    """Make one submitted permit with the engine, then count - 1 copies activated earlier, all overdue."""
    from models import Step, StepAssignee, transaction
    from models.permit import Permit
    from workflow import engine, machine
    from workflow.walkthrough import draft
    template = draft("hot_work", start=START)
    engine.submit(template.no, by=template.applicant, now=START - timedelta(hours=3))
    template = Permit.get_by_id(template.id)
    active = machine.active_step(template)
    assert template.state == "in_approval" and active.escalate_at is not None
    prefix, day = _numbers(template.no)
    row = Permit.select().where(Permit.id == template.id).dicts().get()
    del row["id"]
    shifts = [SPREAD * (i + 1) for i in range(count - 1)]
    rows = [{**row, "no": f"{prefix}-{day:%Y%m%d}-{1000 + i:04d}", "created_at": row["created_at"] - shift,
             "submitted_at": row["submitted_at"] - shift} for i, shift in enumerate(shifts)]
    steps = list(Step.select().where(Step.permit == template).order_by(Step.seq).dicts())
    timers = ("activated_at", "due_at", "remind_at", "escalate_at")
    ids = [active.id]
    if rows:
        lo, hi = _insert_permits(rows)
        _copy_children(template.id, lo, hi, steps=False)
        fields = [f for f in Step._meta.sorted_fields if f.name != "id"]
        copies = []
        for permit_id, shift in zip(range(lo, hi + 1), shifts):
            for s in steps:
                s = {**s, "permit": permit_id}
                if s["id"] == active.id:
                    s.update({t: s[t] - shift for t in timers if s[t] is not None})
                copies.append(tuple(s[f.name] for f in fields))
        assignees = list(StepAssignee.select().where(StepAssignee.step == active).dicts())
        with transaction():
            for k in range(0, len(copies), PERMIT_BATCH):
                Step.insert_many(copies[k:k + PERMIT_BATCH], fields=fields).execute()
            copied = [sid for (sid,) in Step.select(Step.id).where(
                (Step.key == active.key) & Step.permit.between(lo, hi)).order_by(Step.id).tuples()]
            StepAssignee.insert_many([{"step": sid, "person": a["person"], "round": a["round"],
                                       "reason": a["reason"]} for sid in copied for a in assignees]).execute()
        ids += copied
    store.overdue_steps, store.step_key = ids, active.key
    store.now = active.escalate_at + timedelta(minutes=1)


def _build(store: Store, closed: int, overdue: int) -> None:
    from exports.org_import import load_org
    from models import AuditEvent, AuditHead, Outbox, PermitMember, Step, StepAssignee, connect
    from models.permit import Permit
    from models.schema import upgrade
    began = time.perf_counter()
    store.db = connect(store.url)
    store.pg = store.db.__class__.__name__.startswith("Postgres")
    upgrade()
    load_org(SAMPLE_ORG)
    if closed:
        _load_closed(closed)
    _load_overdue(store, overdue)
    if store.pg:
        store.db.execute_sql("VACUUM ANALYZE")
    store.closed = Permit.select().where(Permit.state == "closed").count()
    store.rows = {"permits": Permit.select().count(), "steps": Step.select().count(),
                  "assignees": StepAssignee.select().count(), "members": PermitMember.select().count()}
    store.outbox_id = Outbox.select(Outbox.id).order_by(Outbox.id.desc()).scalar() or 0
    head = AuditHead.get()
    store.audit_seq, store.audit_hash = head.seq, head.hash
    assert AuditEvent.select().order_by(AuditEvent.seq.desc()).first().hash == head.hash
    store.built_s = time.perf_counter() - began


def _reset(store: Store) -> None:
    """Put the overdue steps back as they were before any escalation."""
    from models import AuditEvent, AuditHead, Outbox, Step, StepAssignee, transaction
    with transaction():
        Step.update(escalate_at=Step.due_at, escalation_level=0).where(Step.id.in_(store.overdue_steps)).execute()
        StepAssignee.delete().where(StepAssignee.step.in_(store.overdue_steps)
                                    & (StepAssignee.reason == "escalated")).execute()
        Outbox.delete().where(Outbox.id > store.outbox_id).execute()
        AuditEvent.delete().where(AuditEvent.seq > store.audit_seq).execute()
        AuditHead.update(seq=store.audit_seq, hash=store.audit_hash).execute()
    if store.pg:
        store.db.execute_sql("VACUUM ANALYZE permit, step, step_assignee, outbox, audit_event, audit_head")


# -- measuring -------------------------------------------------------------------------------------------

def _due_query(store: Store) -> list:
    from models import Step
    from workflow import deadlines
    return deadlines._due(Step.escalate_at, store.now)


def _drain(store: Store) -> tuple[int, int]:
    """Call escalate_due until it finds nothing; return (items escalated, calls)."""
    from workflow import deadlines
    done = calls = 0
    while True:
        calls += 1
        out = deadlines.escalate_due(store.now)
        if not out:
            return done, calls
        done += len(out)


def _check(store: Store) -> dict:
    """Return what one drain left behind, for the check line."""
    from models import AuditEvent, Outbox, Step, StepAssignee
    n = len(store.overdue_steps)
    left = Step.select().where((Step.state == "active") & (Step.escalate_at <= store.now)).count()
    levels = Step.select().where(Step.id.in_(store.overdue_steps) & (Step.escalation_level == 1)).count()
    escalated = StepAssignee.select().where(StepAssignee.reason == "escalated").count()
    events = AuditEvent.select().where((AuditEvent.seq > store.audit_seq) & (AuditEvent.action == "escalate")).count()
    outbox = Outbox.select().where(Outbox.id > store.outbox_id).count()
    found = {"left": left, "levels": levels, "escalated": escalated, "events": events, "outbox": outbox}
    if left or levels != n or events != n or escalated < n or outbox < n:
        sys.exit(f"{store.name}: the drain did not escalate each overdue step exactly once: {found}")
    return found


def _plan(store: Store) -> list[str]:
    """Return the database's plan for the exact statement _due() runs."""
    captured = []
    store.db.query_hooks.append(captured.append)
    try:
        _due_query(store)
    finally:
        store.db.query_hooks.remove(captured.append)
    sql, params = captured[-1].sql, captured[-1].params
    cursor = store.db.execute_sql(("EXPLAIN " if store.pg else "EXPLAIN QUERY PLAN ") + sql, params)
    rows = cursor.fetchall()
    return [r[0] for r in rows] if store.pg else [r[-1] for r in rows]


def _measure(store: Store, queries: int, record: bool) -> dict:
    _use(store)
    _reset(store)
    times = []
    for _ in range(queries):
        began = time.perf_counter()
        due = _due_query(store)
        times.append(time.perf_counter() - began)
    from workflow import deadlines
    assert len(due) == min(deadlines.BATCH, len(store.overdue_steps)), len(due)
    began = time.perf_counter()
    done, calls = _drain(store)
    elapsed = time.perf_counter() - began
    if done != len(store.overdue_steps):
        sys.exit(f"{store.name}: escalate_due escalated {done} steps, not {len(store.overdue_steps)}")
    found = _check(store)
    if record:
        store.drains.append(elapsed)
        store.queries.append(statistics.median(times))
    return {**found, "calls": calls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed", type=int, default=100_000, help="closed permits in the big database")
    parser.add_argument("--overdue", type=int, default=1000, help="overdue permits in both databases")
    parser.add_argument("--repeat", type=int, default=5, help="measured repetitions per database")
    parser.add_argument("--queries", type=int, default=15, help="timings of the due query per repetition")
    parser.add_argument("--force", action="store_true", help="allow a DATABASE_URL not named test/bench")
    args = parser.parse_args()
    if args.closed < 1 or args.overdue < 1 or args.repeat < 1 or args.queries < 1:
        parser.error("--closed, --overdue, --repeat and --queries must be positive")

    server_url = _database_url(args.force)
    instance = Path(tempfile.mkdtemp(prefix="bench-escalation-"))
    os.environ.update({"INSTANCE_PATH": str(instance), "DATABASE_URL": server_url or f"sqlite:///{instance / 'x.db'}"})
    import logging
    logging.disable(logging.INFO)  # the scan logs per item
    try:
        return _run(args, instance, server_url)
    finally:
        for db in _OPEN:
            db.close()
        if server_url:
            _drop_schemas(server_url)
        shutil.rmtree(instance, ignore_errors=True)


_OPEN: list = []


def _run(args, instance: Path, server_url: str) -> int:
    import settings
    from app import wire_gates
    settings.configure({"STEP_LIMIT_FACTOR": "1"})
    wire_gates()   # the engine runs here without an app; its gates still need their checks
    if server_url:
        _recreate_schemas(server_url)
        urls = {name: _with_search_path(server_url, schema) for name, schema in SCHEMAS.items()}
        name = urlparse(server_url).path.lstrip("/")
        where = f"postgresql, schemas {SCHEMAS['big']} and {SCHEMAS['floor']} in database {name}"
    else:
        urls = {name: f"sqlite:///{instance / (name + '.db')}" for name in SCHEMAS}
        where = "sqlite (two temporary files, WAL, synchronous=NORMAL)"
    floor, big = Store("floor", urls["floor"]), Store("big", urls["big"])
    support.phase(f"building the floor database ({args.overdue} overdue permits)")
    _build(floor, 0, args.overdue)
    _OPEN.append(floor.db)
    support.phase(f"building the big database ({args.closed} closed permits besides): the longest part")
    _build(big, args.closed, args.overdue)
    _OPEN.append(big.db)
    assert big.now == floor.now and len(big.overdue_steps) == len(floor.overdue_steps) == args.overdue

    print("bench/escalation_scan.py: deadlines.escalate_due(now) over a large history, beside the same "
          "overdue steps alone")
    print(f"database: {where}")
    for s in (big, floor):
        r = s.rows
        print(f"{s.name:<5}: {r['permits']} permits ({s.closed} closed, {len(s.overdue_steps)} overdue), "
              f"{r['steps']} steps, {r['assignees']} step assignees, {r['members']} members; "
              f"built in {s.built_s:.1f} s")
    _use(big)
    print(f"plan of the due query on big ({'EXPLAIN' if big.pg else 'EXPLAIN QUERY PLAN'}):")
    plan = _plan(big)
    for line in plan:
        print(f"    {line}")
    if not any("step_escalate_at" in line for line in plan):
        print("check FAILED: the due query does not use the index on step.escalate_at", file=sys.stderr)
        return 1

    found = {}
    for rep in range(1 + args.repeat):
        order = (floor, big) if rep % 2 == 0 else (big, floor)
        for store in order:
            found[store.name] = _measure(store, args.queries, record=rep > 0)
    f, b = found["floor"], found["big"]
    if {k: v for k, v in f.items()} != {k: v for k, v in b.items()}:
        print(f"check FAILED: the two databases' drains differ: floor {f}, big {b}", file=sys.stderr)
        return 1
    n = len(big.overdue_steps)
    print(f"check: each drain ({b['calls']} escalate_due calls of at most 500) escalated all {n} overdue "
          f"{big.step_key} steps once ({b['events']} escalate events, {b['escalated']} escalated assignees, "
          f"{b['outbox']} outbox rows), nothing left due; the same on both databases")
    print(f"repetitions: {args.repeat} per database after one warm-up, alternating; medians below; "
          f"due query timed {args.queries}x per repetition")
    print(f"{'database':<10}{'permits':>9}{'steps':>10}{'due query ms':>14}{'drain ms':>10}"
          f"{'min ms':>9}{'max ms':>9}{'ms/item':>9}")
    for s in (big, floor):
        drain = statistics.median(s.drains) * 1000
        print(f"{s.name:<10}{s.rows['permits']:>9}{s.rows['steps']:>10}"
              f"{statistics.median(s.queries) * 1000:>14.2f}{drain:>10.1f}{min(s.drains) * 1000:>9.1f}"
              f"{max(s.drains) * 1000:>9.1f}{drain / n:>9.3f}")
    for s in (big, floor):
        print(f"{s.name} drains ms: {' '.join(f'{x * 1000:.0f}' for x in s.drains)}")
    ratio = statistics.median(big.drains) / statistics.median(floor.drains)
    query_ratio = statistics.median(big.queries) / statistics.median(floor.queries)
    print(f"big/floor: drain {ratio:.2f}x, due query {query_ratio:.2f}x")
    print(f"ratio={ratio:.2f} target<={TARGET:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
