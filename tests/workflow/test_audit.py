"""The audit chain: appends link up, and verify() names the first thing someone tampered with."""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta

import pytest

from models import AuditEvent, AuditHead, Department, Permit, PermitMember, Person, database, transaction
from workflow import audit

T0 = datetime(2026, 11, 24, 8, 0, 0)


def _permit(no: str = "DH-20261124-0001") -> Permit:
    unit = Department.get_or_create(code="U1", defaults={"name": "常减压车间", "kind": "基层单位"})[0]
    applicant = Person.create(name="张三", wecom_userid=f"zhangsan-{no}", department=unit)
    permit = Permit.create(no=no, work_type="hot_work", grade="二级", state="applied", unit=unit,
                           applicant=applicant, location="常减压装置 E-101", content="更换法兰垫片",
                           planned_start=T0, planned_end=T0 + timedelta(hours=8),
                           attributes={"hot_work_grade": "二级", "height_m": 2.5})
    PermitMember.create(permit=permit, person=applicant, role="作业人")
    return permit


def _record(permit: Permit, action: str, *, state: str, minutes: int = 0) -> AuditEvent:
    """Change the permit's state and audit it, the way the engine does."""
    with transaction():
        permit.state = state
        permit.version += 1
        permit.save()
        return audit.append(permit_no=permit.no, actor="zhangsan", action=action,
                            data={"step": action, "snapshot": audit.snapshot(permit)},
                            at=T0 + timedelta(minutes=minutes, microseconds=123456))


def _lifecycle(permit: Permit) -> list[AuditEvent]:
    steps = [("submit", "submitted"), ("approve", "approved"), ("start", "in_progress"),
             ("note", "in_progress"), ("complete", "completed")]
    return [_record(permit, action, state=state, minutes=i) for i, (action, state) in enumerate(steps)]


def test_intact_chain_verifies(db):
    events = _lifecycle(_permit())
    report = audit.verify()
    assert report.ok and report.broken is None and report.checked == 5
    assert report.text() == "OK: 5 events, chain intact"
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    head = AuditHead.get()
    assert (head.seq, head.hash) == (5, events[-1].hash)


def test_hash_is_sha256_of_canonical_json(db):
    event = _lifecycle(_permit())[0]
    stored = AuditEvent.get_by_id(event.id)
    body = {"seq": 1, "permit_no": "DH-20261124-0001", "actor": "zhangsan", "action": "submit",
            "data": stored.data, "created_at": "2026-11-24T08:00:00", "prev_hash": audit.GENESIS}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert stored.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert stored.created_at == T0


def test_verify_walks_in_pages(db, monkeypatch):
    monkeypatch.setattr(audit, "PAGE", 2)
    permits = [_permit(f"DH-20261124-000{i}") for i in range(1, 4)]
    for permit in permits:
        _lifecycle(permit)
    assert audit.verify().text() == "OK: 15 events, chain intact"


def test_edited_event_data_is_named(db):
    events = _lifecycle(_permit())
    AuditEvent.update(data={"step": "approve", "snapshot": {"forged": True}}).where(AuditEvent.seq == 2).execute()
    report = audit.verify()
    assert not report.ok and report.checked == 1
    assert (report.broken.seq, report.broken.event_id, report.broken.action) == (2, events[1].id, "approve")
    assert "content changed" in report.text() and "data" in report.text()
    assert f"event id {events[1].id}" in report.text()


def test_deleted_event_is_named(db):
    _lifecycle(_permit())
    AuditEvent.delete().where(AuditEvent.seq == 3).execute()
    report = audit.verify()
    assert not report.ok and report.checked == 2
    assert report.broken.seq == 3 and report.broken.event_id is None
    assert "event #3 is missing (deleted)" in report.text()


def test_deleted_last_event_is_named(db):
    _lifecycle(_permit())
    AuditEvent.delete().where(AuditEvent.seq == 5).execute()
    report = audit.verify()
    assert report.broken.seq == 5 and "event #5 is missing (deleted)" in report.text()


def test_edited_prev_hash_is_named(db):
    events = _lifecycle(_permit())
    AuditEvent.update(prev_hash="f" * 64).where(AuditEvent.seq == 4).execute()
    report = audit.verify()
    assert (report.broken.seq, report.broken.event_id) == (4, events[3].id)
    assert "link broken" in report.text()


def test_event_added_behind_the_heads_back_is_named(db):
    events = _lifecycle(_permit())
    last = events[-1]
    forged = AuditEvent.create(seq=6, permit_no=last.permit_no, actor="mallory", action="close", data={},
                               created_at=T0, prev_hash=last.hash, hash="e" * 64)
    report = audit.verify()
    assert (report.broken.seq, report.broken.event_id) == (6, forged.id)
    assert "beyond the head" in report.text()


def test_permit_edited_directly_is_named_with_its_fields(db):
    permit = _permit()
    events = _lifecycle(permit)
    _record(_permit("DH-20261124-0002"), "submit", state="submitted", minutes=9)
    Permit.update(state="closed", location="别处").where(Permit.id == permit.id).execute()
    report = audit.verify()
    assert not report.ok and report.checked == 6
    assert report.broken.permit_no == permit.no and report.broken.seq == events[-1].seq
    assert (f"permit DH-20261124-0001: location is '别处' in the database but '常减压装置 E-101' "
            f"in audit event #5") in report.text()
    assert "state is 'closed' in the database but 'completed' in audit event #5" in report.text()


def test_member_added_directly_is_named(db):
    permit = _permit()
    _lifecycle(permit)
    guardian = Person.create(name="李四", department=permit.unit)
    PermitMember.create(permit=permit, person=guardian, role="监护人")
    assert "members is" in audit.verify().text()


def test_permit_created_outside_the_engine_is_named(db):
    _lifecycle(_permit())
    _permit("DH-20261124-0002")
    report = audit.verify()
    assert report.broken.permit_no == "DH-20261124-0002" and report.broken.seq is None
    assert "no audited snapshot" in report.text()


def test_permit_deleted_directly_is_named(db):
    _lifecycle(_permit())
    Permit.delete().execute()
    assert "no longer in the database" in audit.verify().text()


def test_append_outside_a_transaction_raises(db):
    with pytest.raises(RuntimeError, match="transaction"):
        audit.append(permit_no=None, actor="zhangsan", action="import", data={}, at=T0)
    assert AuditEvent.select().count() == 0


def test_datetimes_in_data_are_refused(db):
    with transaction(), pytest.raises(TypeError, match="datetime"):
        audit.append(permit_no=None, actor="zhangsan", action="import", data={"at": T0}, at=T0)


def test_concurrent_appends_make_one_chain(db):
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for i in range(50):
                with transaction():
                    audit.append(permit_no=None, actor=name, action="import", data={"i": i}, at=T0)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread to fail the test
            errors.append(exc)
        finally:
            database.close()  # each thread has its own connection

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit.verify().text() == "OK: 100 events, chain intact"
    by_actor = {actor: [e.data["i"] for e in AuditEvent.select().where(AuditEvent.actor == actor)
                        .order_by(AuditEvent.seq)] for actor in ("a", "b")}
    assert by_actor == {"a": list(range(50)), "b": list(range(50))}
