"""一企一档: one enterprise's whole file as one zip, readable by people and restorable by the program.

The zip holds, for the enterprise whose database is bound:
- 组织架构.xlsx: its 部门 and 人员 sheets under the org workbook's own headers (load-org reads it back),
  and a 证书 sheet of every certificate;
- 作业票台账.xlsx: the ledger over its whole history (permits, signatures, gas readings, alarms, …);
- 持证情况统计表.xlsx, 审计记录.xlsx (every event, each checked, and the chain's verdict);
- 审计校验.txt: verify-audit's verdict on the chain at the time of archiving;
- db/<table>.jsonl: every row, as a backup holds them, so the chain can be verified again elsewhere;
- media/<path>: every photo and file its rows name (permit attachments, isolation and hazard photos),
  under the path the rows carry;
- manifest.json: the enterprise, the time, the schema version, the verdict and each member's SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from peewee import fn

from exports.build import build_audit, build_certificates, build_ledger
from exports.org_workbook import (CODE, DEPARTMENT, DEPARTMENTS, DEPT_NAME, DINGTALK, KIND, MOBILE, NAME, PARENT,
                                  PEOPLE, ROLE, WECOM)
from exports.period import Period
from exports.run import Run
from exports.scope import Scope
from exports.sheet import Column, Sheet, new_book
from models import AuditEvent, Certificate, Department, Permit, Person
from models.hazard import FindingPhoto
from models.permit import Attachment
from models.snapshot import dump
from park.enterprises import media_file
from workflow import audit

FORMAT = "enterprise-archive/1"
ORG, LEDGER, CERTIFICATES, AUDIT, VERDICT = "组织架构.xlsx", "作业票台账.xlsx", "持证情况统计表.xlsx", "审计记录.xlsx", "审计校验.txt"
PARTS = (ORG, LEDGER, CERTIFICATES, AUDIT, VERDICT, "manifest.json")


@dataclass(frozen=True)
class Archived:
    path: Path
    manifest: dict

    @property
    def verified(self) -> bool:
        return self.manifest["audit"]["ok"]


def history(run: Run) -> Period:
    """Return the plant-local days from the first permit or audit event to today: the enterprise's whole file."""
    today = _local_day(run, run.now)
    firsts = [Permit.select(fn.MIN(Permit.planned_start)).scalar(),
              AuditEvent.select(fn.MIN(AuditEvent.created_at)).scalar()]
    days = [_local_day(run, moment) for moment in firsts if moment is not None]
    return Period(min(days + [today]), max(days + [today]))


def _local_day(run: Run, moment) -> date:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc).astimezone(run.tz).date()


def write_org(out: Path, run: Run) -> dict[str, int]:
    """Write 部门, 人员 and 证书 under the org workbook's headers; return the rows of each."""
    book, heading = new_book(), run.heading("—")
    departments = Sheet(book, DEPARTMENTS, (Column(CODE, 14), Column(DEPT_NAME, 24), Column(PARENT, 14),
                                            Column(KIND, 10)), title="部门", heading=heading)
    for d in Department.select().order_by(Department.id):
        departments.append([d.code, d.name, d.parent.code if d.parent_id else "", d.kind])
    people = Sheet(book, PEOPLE, (Column(NAME, 12), Column(WECOM, 16), Column(DINGTALK, 16), Column(MOBILE, 14),
                                  Column(DEPARTMENT, 12), Column(ROLE, 30), Column("在职", 6)),
                   title="人员", heading=heading)
    for p in Person.select().order_by(Person.id):
        people.append([p.name, p.wecom_userid or "", p.dingtalk_userid or "", p.mobile or "", p.department.code,
                       "、".join(sorted(p.role_names())), "是" if p.active else "否"])
    certificates = Sheet(book, "证书", (Column("姓名", 12), Column("证书类型", 16), Column("证书编号", 20),
                                        Column("发证机关", 20), Column("发证日期", 12), Column("有效期至", 12),
                                        Column("状态", 8)), title="证书", heading=heading)
    for c in Certificate.select().order_by(Certificate.id):
        certificates.append([c.person.name, c.kind, c.number, c.issuer, c.issued_on, c.valid_until,
                             "已撤销" if c.revoked_at else "有效"])
    rows = {DEPARTMENTS: departments.finish(), PEOPLE: people.finish(), "证书": certificates.finish()}
    book.save(out)
    return rows


def write(out: Path, enterprise: dict, run: Run, say: Callable[[str], None] = lambda _text: None) -> Archived:
    """Write the bound enterprise's whole file to out (a .zip); return where and its manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    checksums: dict[str, str] = {}
    verdict = audit.verify()
    whole = history(run)
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, path: Path) -> None:
            checksums[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            zf.write(path, name)

        def add_bytes(name: str, data: bytes) -> None:
            checksums[name] = hashlib.sha256(data).hexdigest()
            zf.writestr(name, data)

        work = Path(folder)
        org_rows = write_org(work / ORG, run)
        add(ORG, work / ORG)
        say(f"  组织架构：部门 {org_rows[DEPARTMENTS]} 个，人员 {org_rows[PEOPLE]} 人，证书 {org_rows['证书']} 本")
        for name, built in ((LEDGER, lambda p: build_ledger(Scope(whole), p, run)),
                            (CERTIFICATES, lambda p: build_certificates(whole, p, run)),
                            (AUDIT, lambda p: build_audit(p, run, period=whole))):
            made = built(work / name)
            add(name, made.path)
            say(f"  {name.removesuffix('.xlsx')}：{made.summary}")
        add_bytes(VERDICT, (verdict.text() + "\n").encode())

        def sink(table: str, lines: Iterator[str]) -> int:
            path, count = work / f"{table}.jsonl", 0
            with path.open("wb") as spool:
                for line in lines:
                    spool.write((line + "\n").encode("utf-8"))
                    count += 1
            add(f"db/{table}.jsonl", path)
            return count

        database = dump(sink)
        stored, missing = 0, []
        for relative in media_paths():
            path = media_file(relative)
            if path.is_file():
                add(f"media/{relative}", path)
                stored += 1
            else:
                missing.append(relative)
        say(f"  照片与附件：{stored} 个" + (f"，缺失 {len(missing)} 个（见 manifest.json）" if missing else ""))
        manifest = {"format": FORMAT, "enterprise": enterprise,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "period": {"first": whole.first.isoformat(), "last": whole.last.isoformat()},
                    "audit": {"ok": verdict.ok, "checked": verdict.checked, "text": verdict.text()},
                    "database": database, "media": {"files": stored, "missing": missing}, "checksums": checksums}
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    partial.replace(out)
    return Archived(out, manifest)


def media_paths() -> list[str]:
    """Return the relative path of every photo and file the bound database's rows name, each once."""
    paths = {str(p) for (p,) in Attachment.select(Attachment.path).tuples()}
    paths |= {str(p) for (p,) in FindingPhoto.select(FindingPhoto.path).tuples()}
    return sorted(paths)


def read_rows(path: Path) -> tuple[dict, Callable[[str], Iterator[str]]]:
    """Return an archive's manifest and a source of its db/ rows for models.snapshot.load, checksums checked."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        members = {name: zf.read(name) for name in manifest["checksums"]}
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != manifest["checksums"][name]:
            raise ValueError(f"校验和不符，档案已损坏或被改动：{name}")

    def source(table: str) -> Iterator[str]:
        return iter(members.get(f"db/{table}.jsonl", b"").decode("utf-8").splitlines())
    return manifest, source
