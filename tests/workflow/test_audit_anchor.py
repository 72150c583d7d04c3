"""The audit chain anchored outside the database: keyed MACs, signed checkpoints, and the signature table."""
from __future__ import annotations

import json

import pytest

import settings
from models import AuditEvent, AuditHead, Outbox, Person, Signature
from models.permit import Permit
from tests.workflow.test_audit import _lifecycle, _permit
from workflow import audit, checkpoints
from workflow.sealing import NotSealed, seal


def _rewrite(seq: int, *, action: str, key: bytes | None) -> None:
    """Edit event seq and recompute every later hash and the head, as an attacker with database access would.

    key: the MACs are recomputed too (an attacker who also stole the audit key); None: they are left as they were.
    """
    import hashlib
    import hmac
    events = list(AuditEvent.select().order_by(AuditEvent.seq))
    prev = events[seq - 2].hash if seq > 1 else audit.GENESIS
    for event in events[seq - 1:]:
        if event.seq == seq:
            event.action = action
        event.prev_hash = prev
        event.hash = audit._digest(event)
        if key is not None:
            event.mac = hmac.new(key, f"audit-link:{event.seq}:{event.hash}".encode(), hashlib.sha256).hexdigest()
        event.save()
        prev = event.hash
    AuditHead.update(seq=events[-1].seq, hash=prev).execute()


def test_an_edit_recomputed_without_the_key_is_caught_by_the_mac(db):
    _lifecycle(_permit())
    _rewrite(2, action="reject", key=None)
    assert audit.verify(keyed=False).ok   # the unkeyed chain alone no longer sees it
    report = audit.verify()
    assert not report.ok and report.broken.seq == 2
    assert report.broken.what.startswith("event #2: MAC does not match: the event and its hash were rewritten")


def test_a_recomputation_with_the_key_is_caught_by_an_earlier_checkpoint(db):
    _lifecycle(_permit())
    point = checkpoints.write()
    assert (point.seq, point.line) == (5, 1)
    _rewrite(3, action="reject", key=settings.audit_key())
    report = audit.verify()
    assert not report.ok and report.broken.seq == 5
    assert report.broken.what.startswith("event #5 differs from checkpoint line 1")


def test_deleting_the_newest_events_behind_a_checkpoint_is_caught(db):
    _lifecycle(_permit())
    checkpoints.write()
    last = AuditEvent.get(AuditEvent.seq == 4)
    AuditEvent.delete().where(AuditEvent.seq == 5).execute()
    AuditHead.update(seq=4, hash=last.hash).execute()
    report = audit.verify()
    assert not report.ok
    assert report.broken.what == ("the chain ends at event #4 but checkpoint line 1 "
                                  f"({checkpoints.latest().at}) records event #5: events after #4 were deleted")


def test_a_checkpoint_line_forged_without_the_key_is_named(db):
    _lifecycle(_permit())
    checkpoints.write()
    path = settings.audit_checkpoints()
    entry = json.loads(path.read_text())
    entry["seq"] = 4
    path.write_text(path.read_text() + json.dumps(entry) + "\n")
    report = audit.verify()
    assert not report.ok and report.broken.what == f"checkpoint line 2 of {path} is not signed with the audit key"


def test_a_chain_written_before_the_key_is_named_until_sealed_then_verifies(db):
    _lifecycle(_permit())
    AuditEvent.update(mac=None).execute()   # as m0014 leaves an older chain
    report = audit.verify()
    assert not report.ok and report.broken.what.startswith("event #1 carries no MAC: written before the audit key")
    assert seal() == ["sealed events #1–#5 with the audit key", "checkpoint of event #5 appended to line 1"]
    assert audit.verify().ok
    # A MAC erased after sealing is not sealed again: that would launder a rewrite.
    AuditEvent.update(mac=None).where(AuditEvent.seq == 3).execute()
    with pytest.raises(NotSealed, match="event #3 has no MAC but the earlier event #1 has one"):
        seal()
    assert not audit.verify().ok


@pytest.fixture
def closed(plant):
    """A hot-work permit taken through every step by the engine, its chain intact."""
    from tests.conftest import MORNING
    from workflow.walkthrough import run_to_close
    permit = run_to_close("hot_work", start=MORNING)
    assert audit.verify().ok
    return permit


def test_every_signature_is_recorded_in_the_event_of_its_command(closed):
    recorded = {row["id"]: (event.action, row) for event in AuditEvent.select()
                for row in (event.data.get("signatures") or [])}
    signatures = list(Signature.select())
    assert signatures and sorted(recorded) == [s.id for s in signatures]
    first = signatures[0]
    assert recorded[first.id][1]["person"] == first.person_id and recorded[first.id][1]["decision"] == first.decision


def test_a_signature_reassigned_to_another_person_is_named(closed):
    signature = Signature.select().where(Signature.decision == "approve").order_by(Signature.id).first()
    signer = signature.person
    other = Person.select().where(Person.id != signer.id).order_by(Person.id).first()
    Signature.update(person=other).where(Signature.id == signature.id).execute()
    report = audit.verify()
    assert not report.ok
    assert report.broken.what == (f"signature #{signature.id} of permit {closed.no}: person is {other.name}（#{other.id}）"
                                  f" in the database but {signer.name}（#{signer.id}） in audit event "
                                  f"#{report.broken.seq}")
    assert AuditEvent.get(AuditEvent.seq == report.broken.seq).data["signatures"][0]["id"] == signature.id


def test_a_signature_edited_or_deleted_or_added_by_hand_is_named(closed):
    first, second = Signature.select().order_by(Signature.id)[:2]
    Signature.update(decision="reject").where(Signature.id == first.id).execute()
    assert audit.verify().broken.what.startswith(f"signature #{first.id} of permit {closed.no}: decision is 'reject' "
                                                 f"in the database but '{first.decision}' in audit event #")
    Signature.update(decision=first.decision).where(Signature.id == first.id).execute()
    assert audit.verify().ok
    Signature.delete().where(Signature.id == second.id).execute()
    what = audit.verify().broken.what
    assert what.startswith(f"signature #{second.id} of permit {closed.no}, recorded in audit event #")
    assert what.endswith("is no longer in the database (deleted)")
    forged = Signature.create(**{**second.__data__, "id": None})
    assert audit.verify().broken.what == (f"signature #{forged.id} of permit {closed.no} has no audit record: "
                                          f"it was written outside the engine")


def test_sealing_records_signatures_written_before_they_were_audited(closed):
    for event in AuditEvent.select():
        if "signatures" in event.data:   # as the chain of a plant that ran before signatures were recorded
            event.data = {k: v for k, v in event.data.items() if k != "signatures"}
            event.save()
    _rechain_with_key()
    assert audit.verify().broken.what.endswith("has no audit record: it was written outside the engine")
    done = seal()
    assert done[0] == f"recorded {Signature.select().count()} signatures written before signatures were audited"
    assert audit.verify().ok


def _rechain_with_key() -> None:
    events = list(AuditEvent.select().order_by(AuditEvent.seq))
    prev = audit.GENESIS
    for event in events:
        event.prev_hash = prev
        event.hash = audit._digest(event)
        event.mac = audit.mac(event.seq, event.hash)
        event.save()
        prev = event.hash
    AuditHead.update(seq=events[-1].seq, hash=prev).execute()


def test_the_daily_checkpoint_goes_to_the_file_and_to_the_safety_head_in_chat(closed):
    from jobs.checkpoints import daily_checkpoint
    assert daily_checkpoint("2026-11-24") == 1
    point = checkpoints.latest()
    head = AuditHead.get()
    assert (point.seq, point.hash) == (head.seq, head.hash)
    row = Outbox.get(Outbox.dedupe_key.startswith("audit-checkpoint:2026-11-24:"))
    assert row.person.name == "钱安平" and head.hash in row.payload["text"]
    assert daily_checkpoint("2026-11-24") == 0 and len(checkpoints.read()[0]) == 1
    assert audit.verify().ok
