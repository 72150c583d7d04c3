"""Exports as jobs: build the workbook in a worker, show progress on the requester's card, send the file.

A request writes the 正在生成 card to the outbox and queues run_export. The job builds the workbook,
noting its percent in the rq job's meta (what 刷新进度 shows), and ends in one transaction that writes
the file messages, the card's final state and the audit event. A file over the platform's upload
limit is split by month when the period spans several, else offered as a link valid for
links.VALID_MINUTES; every export also gets such a link, which the finished card opens.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from rq import Callback, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

import settings
from exports import links
from exports.build import (KINDS, Built, build_audit, build_certificates, build_ledger, build_report, file_name,
                           human_size)
from exports.period import Period, month as read_month
from exports.run import Run
from exports.scope import Scope
from models import Department, Outbox, Person, transaction, utcnow
from models.org import SAFETY
from workflow import audit
from workflow.clock import local

from . import delivery
from .connection import queue, redis
from .tenancy import scoped
from .unique import enqueue_unique

log = logging.getLogger(__name__)
JOB_TIMEOUT = 3 * 3600          # 100 k permits take minutes; rq's default of 180 s would kill them
KEEP_SECONDS = 3 * 86400        # as long as the platform keeps an uploaded file
REFRESH_EVERY = 1.0             # seconds between looks for 刷新进度 clicks while building


@dataclass(frozen=True)
class Request:
    """What to export, in plain values (jobs take ids and strings, not objects)."""

    kind: str                     # ledger | report | audit | certificates
    first: str = ""               # ISO dates, plant calendar, inclusive
    last: str = ""
    work_type: str | None = None
    unit: str | None = None
    state: str | None = None
    permit_no: str | None = None  # audit of one permit

    @property
    def period(self) -> Period | None:
        return Period(date.fromisoformat(self.first), date.fromisoformat(self.last)) if self.first else None

    @property
    def scope(self) -> Scope:
        return Scope(self.period, self.work_type, self.unit, self.state)

    @property
    def label(self) -> str:
        return self.permit_no or self.period.label

    @property
    def title(self) -> str:
        return f"{KINDS[self.kind]} {self.label}"


def export_id(seed: str) -> str:
    """Return the export's id: the same seed (a retried chat message) gives the same export."""
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:16]


def folder(export: str) -> Path:
    return settings.current().instance_path / "exports" / export


def build(request: Request, out: Path, run: Run, items=None) -> Built:
    """Build the workbook the request asks for at out."""
    if request.kind == "ledger":
        return build_ledger(request.scope, out, run)
    if request.kind == "report":
        return build_report(request.period, out, run, items)
    if request.kind == "audit":
        return build_audit(out, run, period=request.period, permit_no=request.permit_no)
    return build_certificates(request.period, out, run)


# -- asking for an export ---------------------------------------------------------------------------

def start(person: Person, request: Request, *, seed: str) -> str:
    """Put up the 正在生成 card and queue the export; return its id."""
    export = export_id(seed)
    (Outbox.insert(person=person, kind="export", payload={"kind": "export", "export": export, "title": request.title},
                   dedupe_key=f"export:{export}").on_conflict_ignore().execute())
    enqueue_unique(queue("default"), run_export, export, kwargs={"export": export, "person_id": person.id,
                                                                 "request": asdict(request)},
                   job_timeout=JOB_TIMEOUT, result_ttl=KEEP_SECONDS, failure_ttl=KEEP_SECONDS,
                   on_failure=Callback(failed))
    return export


def progress_of(export: str) -> int | None:
    """Return the percent done, 100 once finished, None while queued or unknown."""
    try:
        job = Job.fetch(scoped(export), connection=redis())
    except NoSuchJobError:
        return None
    if job.is_finished:
        return 100
    return job.meta.get("percent")


def refresh(person: Person, export: str, response_code: str) -> bool:
    """Queue the clicked card's update to the current progress; False if the card is not person's."""
    card = Outbox.get_or_none((Outbox.dedupe_key == f"export:{export}") & (Outbox.person == person))
    if card is None:
        return False
    code = hashlib.sha1(response_code.encode()).hexdigest()[:16]
    (Outbox.insert(person=person, kind="export_update",
                   payload={"kind": "export_update", "export": export, "title": card.payload["title"],
                            "percent": progress_of(export), "response_code": response_code},
                   dedupe_key=f"export-refresh:{export}:{code}").on_conflict_ignore().execute())
    return True


# -- the job -------------------------------------------------------------------------------------------

class _Listener:
    """Note the percent on the rq job; answer 刷新进度 clicks even while this worker is busy building."""

    def __init__(self, export: str):
        self.export, self.job, self.checked = export, get_current_job(), 0.0

    def __call__(self, percent: int) -> None:
        if self.job is not None:
            self.job.meta["percent"] = percent
            self.job.save_meta()
        if time.monotonic() - self.checked >= REFRESH_EVERY:
            self.checked = time.monotonic()
            _deliver_now(Outbox.dedupe_key.startswith(f"export-refresh:{self.export}:"), percent=percent)


def _deliver_now(condition, *, percent: int | None = None) -> None:
    """Deliver due rows here and now; the lease in delivery.deliver keeps anyone from sending twice."""
    for row in Outbox.select().where(condition & (Outbox.state == "pending")):
        if percent is not None:
            # The click asked how far along: the answer is now, not when the click came in.
            Outbox.update(payload={**row.payload, "percent": percent}).where(Outbox.id == row.id).execute()
        delivery.deliver(row.id)


def run_export(export: str, person_id: int, request: dict) -> str:
    """Build the export, then write its files, the card's final state and the audit event."""
    from bot.registry import channel_for
    _purge()
    person, wanted = Person.get_by_id(person_id), Request(**request)
    # The card goes first, from here: a single busy worker must not leave it queued behind this job.
    _deliver_now(Outbox.dedupe_key == f"export:{export}")
    out = folder(export)
    out.mkdir(parents=True, exist_ok=True)
    run = Run.current(_Listener(export))
    built = build(wanted, out / file_name(wanted.kind, wanted.label), run)
    reach = channel_for(person)
    limit = reach.limits.file_bytes
    files, how = _fit(built, wanted, limit, run)
    url, expires = links.publish(built.path)
    text, tell = _final_text(built, files, how, url, expires, limit, app=reach.name)
    with transaction():
        ids = [_file_row(person, export, n, part) for n, part in enumerate(files)]
        ids.append(Outbox.insert(person=person, kind="export_done", dedupe_key=f"export-done:{export}",
                                 payload={"kind": "export_done", "export": export, "title": wanted.title,
                                          "text": text, "url": url, "tell": tell}).on_conflict_ignore().execute())
        audit.append(permit_no=wanted.permit_no, actor=person.label(), action="export",
                     data={"kind": wanted.kind, "scope": wanted.label, "filters": wanted.scope.describe() or None,
                           "rows": built.rows, "size": built.size, "delivery": how,
                           "files": [part.filename for part in files]}, at=utcnow())
    delivery.enqueue([i for i in ids if i])
    return f"{built.filename}: {how}"


def _file_row(person: Person, export: str, number: int, part: Built) -> int:
    return (Outbox.insert(person=person, kind="file", dedupe_key=f"export-file:{export}:{number}",
                          payload={"kind": "file", "path": str(part.path), "filename": part.filename})
            .on_conflict_ignore().execute())


def _fit(built: Built, wanted: Request, limit: int, run: Run) -> tuple[list[Built], str]:
    """Return the files to send and how: whole ("file"), one per month ("split"), or none ("link")."""
    if built.size <= limit:
        return [built], "file"
    months = wanted.period.months() if wanted.period and not wanted.permit_no else []
    if len(months) < 2 or wanted.kind not in ("ledger", "audit"):
        return [], "link"
    parts = []
    for part in months:
        one = Request(**{**asdict(wanted), "first": part.first.isoformat(), "last": part.last.isoformat()})
        parts.append(build(one, built.path.parent / file_name(one.kind, one.label), run))
    return parts, "split"


def _final_text(built: Built, files: list[Built], how: str, url: str, expires, limit: int, *,
                app: str) -> tuple[str, str]:
    """Return the finished card's text, and a chat message to send besides ("" for none)."""
    until = f"{local(expires, settings.current().plant_tz):%H:%M}"
    if how == "file":
        return (f"{built.filename}（{human_size(built.size)}）：{built.summary}。文件已发到本对话；"
                f"点击本卡片可在 {links.VALID_MINUTES} 分钟内（{until} 前）下载。", "")
    over = f"{built.filename} 共 {human_size(built.size)}，超过{app}单个文件 {human_size(limit)} 的上限"
    if how == "link":
        text = (f"{over}，不能作为文件发送。请在 {links.VALID_MINUTES} 分钟内（{until} 前）用此链接下载：{url}"
                f"\n{built.summary}")
        return text, text
    big = [part for part in files if part.size > limit]
    text = f"{over}，已按月拆分为 {len(files)} 个文件：" + "、".join(f"{p.filename}（{human_size(p.size)}）" for p in files)
    if big:
        text += f"。其中 {'、'.join(p.filename for p in big)} 仍超过上限，未发送，请用链接下载整个文件：{url}"
    return text + f"。{built.summary}", text if big else ""


def failed(job: Job, connection, kind, value, traceback) -> None:
    """rq's failure callback: end the card with 导出失败 and say so, instead of leaving it spinning."""
    kwargs = job.kwargs
    person = Person.get_or_none(Person.id == kwargs.get("person_id"))
    if person is None:
        return
    title = Request(**kwargs["request"]).title
    (Outbox.insert(person=person, kind="export_done", dedupe_key=f"export-done:{kwargs['export']}",
                   payload={"kind": "export_done", "export": kwargs["export"], "title": title, "failed": True,
                            "text": f"导出失败：{title}（{kind.__name__}）。请稍后重试；如仍失败，请联系系统管理员查看日志。",
                            "url": ""})
     .on_conflict_ignore().execute())
    delivery.enqueue(delivery.due_rows())


def _purge(now: float | None = None) -> None:
    """Delete exports older than the platform keeps their uploads (links lapse far sooner)."""
    root = settings.current().instance_path / "exports"
    cutoff = (now or time.time()) - KEEP_SECONDS
    for path in root.glob("*") if root.exists() else ():
        if path.name != "links" and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
    for path in (root / "links").glob("*") if (root / "links").exists() else ():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


# -- the month's report, on the 1st -------------------------------------------------------------------

def safety_department() -> list[Person]:
    """Everyone active in a 安全管理部门 whom a chat channel reaches: they get the monthly report."""
    from bot.registry import NoChannel, channel_for
    people = []
    for person in (Person.select().join(Department)
                   .where((Department.kind == SAFETY) & (Person.active == True)).order_by(Person.id)):  # noqa: E712
        try:
            people.append((person, channel_for(person).limits.file_bytes))
        except NoChannel:
            log.warning("monthly report: %s has no chat account", person.label())
    return people


def monthly_report(month: str) -> str:
    """Build the month's 月度作业许可分析 and send it to the safety department."""
    if Outbox.select().where(Outbox.dedupe_key.startswith(f"monthly:{month}:")).exists():
        return f"{month}: already sent"   # a second enqueue after Redis lost its marker
    _purge()
    period, export = read_month(month), export_id(f"monthly-report:{month}")
    out = folder(export)
    out.mkdir(parents=True, exist_ok=True)
    built = build_report(period, out / file_name("report", period.label), Run.current())
    url, _ = links.publish(built.path)
    text = f"{period.label} {KINDS['report']}已生成：{built.summary}。"
    people = safety_department()
    with transaction():
        ids = []
        for person, limit in people:
            fits = built.size <= limit
            ids.append(Outbox.insert(
                person=person, kind="reply", dedupe_key=f"monthly:{month}:{person.id}",
                payload={"kind": "reply", "text": text + ("文件见下一条消息。" if fits else
                                                           f"文件超过上限，请在 {links.VALID_MINUTES} 分钟内用此链接下载：{url}")})
                .on_conflict_ignore().execute())
            if fits:
                ids.append(_file_row(person, export, person.id, built))
        audit.append(permit_no=None, actor="系统", action="export",
                     data={"kind": "report", "scope": period.label, "size": built.size, "delivery": "monthly",
                           "recipients": [person.id for person, _ in people]}, at=utcnow())
    delivery.enqueue([i for i in ids if i])
    return text
