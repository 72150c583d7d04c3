"""The hash-chained audit trail: append an event, snapshot a permit, verify that nobody rewrote either."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Iterator

from peewee import SQL, MySQLDatabase

import settings
from models import AuditEvent, AuditHead, Department, Permit, PermitMember, database
from models.db import compiled, for_update

from . import checkpoints, signed
from .canonical import canonical as _canonical, plain as _plain, whole_seconds as _whole_seconds
from .verdict import AuditReport, Broken

GENESIS = "0" * 64
HEAD_ID = 1
PAGE = 1000  # rows per keyset page in verify(): the table is never loaded whole
_ABSENT = object()
HASHED = ("seq", "permit_no", "actor", "action", "data", "created_at", "prev_hash")


def _sha(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()


def _digest(event: AuditEvent) -> str:
    body = {name: getattr(event, name) for name in HASHED}
    if isinstance(event.created_at, datetime):
        body["created_at"] = event.created_at.isoformat()
    return _sha(body)


def mac(seq: int, digest: str) -> str:
    """Return the keyed MAC of link seq with hash digest; without the audit key nobody can make one."""
    return hmac.new(settings.audit_key(), f"audit-link:{seq}:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


def intact(event: AuditEvent) -> bool:
    """Tell whether the stored event still matches its own hash (nothing in it was edited)."""
    return _digest(event) == event.hash


def _lock_head() -> AuditHead:
    """Return the head row locked until the transaction ends, creating it on first use."""
    # Every event of every change passes here: its fixed statements are compiled once per database.
    present = compiled(("audit head", "present"), lambda: AuditHead.select(SQL("1")).where(AuditHead.id == 0))
    if database.execute_sql(present, [HEAD_ID]).fetchone() is None:
        insert = AuditHead.insert(id=HEAD_ID, seq=0, hash=GENESIS)
        if isinstance(database.obj, MySQLDatabase):
            # INSERT IGNORE leaves a shared lock on the row another writer just created; two such
            # writers upgrading it for FOR UPDATE deadlock. ON DUPLICATE KEY takes it exclusively.
            insert = insert.on_conflict(update={AuditHead.seq: AuditHead.seq})
        else:
            insert = insert.on_conflict_ignore()
        insert.execute()
    locked = compiled(("audit head", "locked"), lambda: for_update(AuditHead.select().where(AuditHead.id == 0)))
    return next(iter(AuditHead.raw(locked, HEAD_ID)))


def append(*, permit_no: str | None, actor: str, action: str, data: dict, at: datetime) -> AuditEvent:
    """Append one event to the chain; run inside the transaction that makes the change it records."""
    if not database.in_transaction():
        # Outside a transaction the event could commit without its change, or the change without it.
        raise RuntimeError("audit.append must run inside models.transaction()")
    if not isinstance(data, dict):
        raise TypeError(f"audit data must be a dict, not {type(data).__name__}")
    data = _plain(data)
    head = _lock_head()
    event = AuditEvent(seq=head.seq + 1, permit_no=permit_no, actor=actor, action=action, data=data,
                       created_at=_whole_seconds(at), prev_hash=head.hash)
    event.hash = _digest(event)
    event.mac = mac(event.seq, event.hash)
    event.save(force_insert=True)
    moved = compiled(("audit head", "moved"),
                     lambda: AuditHead.update(seq=0, hash="").where(AuditHead.id == 0))
    database.execute_sql(moved, [event.seq, event.hash, HEAD_ID])
    return event


def _snapshot(permit: Permit, *, unit_code: str, members: list[list]) -> dict:
    def iso(value):
        return _whole_seconds(value).isoformat() if isinstance(value, datetime) else value
    return _plain({
        "no": permit.no, "work_type": permit.work_type, "grade": permit.grade, "state": permit.state,
        "version": permit.version, "unit": unit_code, "applicant": permit.applicant_id,
        "location": permit.location, "content": permit.content, "medium": permit.medium,
        "planned_start": iso(permit.planned_start), "planned_end": iso(permit.planned_end),
        "attributes": permit.attributes, "members": sorted(members),
    })


def snapshot(permit: Permit) -> dict:
    """Return the audited content of a permit as plain JSON."""
    rows = PermitMember.select(PermitMember.role, PermitMember.person).where(PermitMember.permit == permit.id)
    return _snapshot(permit, unit_code=permit.unit.code, members=[[m.role, m.person_id] for m in rows])


def _events(*, upto: int | None) -> Iterator[AuditEvent]:
    last = None
    while True:
        query = AuditEvent.select().order_by(AuditEvent.seq).limit(PAGE)
        if last is not None:
            query = query.where(AuditEvent.seq > last)
        if upto is not None:
            query = query.where(AuditEvent.seq <= upto)
        page = list(query)
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].seq


def _permit_snapshots() -> Iterator[dict]:
    last = 0
    while True:
        page = list(Permit.select(Permit, Department).join(Department).where(Permit.id > last)
                    .order_by(Permit.id).limit(PAGE))
        if not page:
            return
        members: dict[int, list] = {}
        # Keyset pages are contiguous in id, so a range fetches exactly this page's members.
        for m in PermitMember.select().where(PermitMember.permit.between(page[0].id, page[-1].id)):
            members.setdefault(m.permit_id, []).append([m.role, m.person_id])
        for permit in page:
            yield _snapshot(permit, unit_code=permit.unit.code, members=members.get(permit.id, []))
        last = page[-1].id


def _broken(event: AuditEvent, what: str) -> Broken:
    return Broken(event.seq, event.id, event.permit_no, event.action, what)


def _check_link(event: AuditEvent, prev: AuditEvent | None, *, keyed: bool = True) -> Broken | None:
    expected = prev.seq + 1 if prev else 1
    if event.seq > expected:
        return Broken(expected, None, None, None,
                      f"event #{expected} is missing (deleted); the next stored event is #{event.seq}")
    if event.seq < expected:
        return _broken(event, f"event #{event.seq} is out of sequence (inserted by hand)")
    if event.prev_hash != (prev.hash if prev else GENESIS):
        return _broken(event, f"event #{event.seq}: link broken: prev_hash does not match the hash of "
                              f"event #{expected - 1}; an event was inserted, deleted or re-ordered")
    if _digest(event) != event.hash:
        return _broken(event, f"event #{event.seq}: content changed: the stored row no longer matches its "
                              f"hash (hashed columns: {', '.join(HASHED)}; or the hash itself was edited)")
    if keyed and not event.mac:
        return _broken(event, f"event #{event.seq} carries no MAC: written before the audit key existed "
                              f"(run `python app.py seal-audit` once) or its MAC was erased")
    if keyed and not hmac.compare_digest(event.mac, mac(event.seq, event.hash)):
        return _broken(event, f"event #{event.seq}: MAC does not match: the event and its hash were "
                              f"rewritten by someone without the audit key (or AUDIT_KEY changed)")
    return None


def _check_head(head: AuditHead | None, last: AuditEvent | None) -> Broken | None:
    if head is None:
        return _broken(last, "the audit head row is missing (deleted)") if last else None
    last_seq = last.seq if last else 0
    if last_seq < head.seq:
        return Broken(last_seq + 1, None, None, None, f"event #{last_seq + 1} is missing (deleted): "
                      f"the head records #{head.seq} but the chain ends at #{last_seq}")
    if head.hash != (last.hash if last else GENESIS):
        return _broken(last, f"event #{last_seq}: the head's hash differs from it: the latest event was replaced")
    # Events first, head second: an append racing with us commits both, so the later head covers it.
    extra = AuditEvent.select().where(AuditEvent.seq > head.seq).order_by(AuditEvent.seq).first()
    now = AuditHead.get_or_none(AuditHead.id == HEAD_ID)
    if extra and (now is None or extra.seq > now.seq):
        return _broken(extra, f"event #{extra.seq} lies beyond the head (#{head.seq}): it was added without append()")
    return None


def _latest_snapshot_event(permit_no: str, *, after: int) -> AuditEvent | None:
    for event in (AuditEvent.select().where((AuditEvent.permit_no == permit_no) & (AuditEvent.seq > after))
                  .order_by(AuditEvent.seq.desc())):
        if isinstance(event.data, dict) and "snapshot" in event.data:
            return event
    return None


def _differences(now: dict, event: AuditEvent) -> Broken:
    then = event.data["snapshot"] if isinstance(event.data["snapshot"], dict) else {}

    def show(value):
        text = repr(value) if value is not _ABSENT else "absent"
        return text if len(text) <= 60 else text[:57] + "..."
    parts = [f"{key} is {show(now.get(key, _ABSENT))} in the database but {show(then.get(key, _ABSENT))} "
             f"in audit event #{event.seq}"
             for key in sorted(set(now) | set(then)) if now.get(key, _ABSENT) != then.get(key, _ABSENT)]
    return _broken(event, f"permit {now['no']}: " + "; ".join(parts))


def _check_permits(recorded: dict[str, tuple[int, str]], *, upto: int) -> Broken | None:
    for now in _permit_snapshots():
        seq, fingerprint = recorded.pop(now["no"], (None, None))
        if fingerprint == _sha(now):
            continue
        event = _latest_snapshot_event(now["no"], after=upto)  # appended while verify() walked
        if event is not None and _sha(event.data["snapshot"]) == _sha(now):
            continue
        if event is None and seq is None:
            return Broken(None, None, now["no"], None,
                          f"permit {now['no']} has no audited snapshot: it was created outside the engine")
        return _differences(now, event or AuditEvent.get(AuditEvent.seq == seq))
    if recorded:  # permits are closed or cancelled, never deleted
        permit_no, (seq, _) = min(recorded.items(), key=lambda item: item[1][0])
        return _broken(AuditEvent.get(AuditEvent.seq == seq),
                       f"permit {permit_no} is in audit event #{seq} but no longer in the database")
    return None


def verify(*, keyed: bool = True) -> AuditReport:
    """Check the chain link by link (and its MACs), the checkpoints, every signature and permit.

    keyed=False checks only what chains written before the audit key can show: links, hashes, permits.
    """
    head = AuditHead.get_or_none(AuditHead.id == HEAD_ID)
    checked, prev, recorded, signatures = 0, None, {}, {}
    for event in _events(upto=head.seq if head else None):
        broken = _check_link(event, prev, keyed=keyed)
        if broken:
            return AuditReport(ok=False, checked=checked, broken=broken)
        checked, prev = checked + 1, event
        if event.permit_no and isinstance(event.data, dict) and "snapshot" in event.data:
            recorded[event.permit_no] = (event.seq, _sha(event.data["snapshot"]))
        signed.collect(event, signatures)
    upto = prev.seq if prev else 0
    broken = (_check_head(head, prev) or (checkpoints.check(upto) if keyed else None)
              or _check_permits(recorded, upto=upto) or (signed.check(signatures, upto=upto) if keyed else None))
    return AuditReport(ok=broken is None, checked=checked, broken=broken)
