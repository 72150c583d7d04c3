"""Bring a chain written before the audit key under it: MAC its events, record its signatures, checkpoint it."""
from __future__ import annotations

from datetime import datetime

from models import AuditEvent, Signature, transaction, utcnow

from . import audit, checkpoints, signed
from .errors import WorkflowError


class NotSealed(WorkflowError):
    """The chain cannot be sealed as it stands."""


def seal(*, now: datetime | None = None) -> list[str]:
    """Seal the events that carry no MAC and adopt unrecorded signatures; return what was done."""
    report = audit.verify(keyed=False)
    if not report.ok:
        raise NotSealed(f"the unkeyed chain is already broken, so it is not sealed: {report.text()}")
    done = []
    with transaction():
        unsealed = list(AuditEvent.select().where(AuditEvent.mac.is_null(True) | (AuditEvent.mac == ""))
                        .order_by(AuditEvent.seq))
        if unsealed:
            later = (AuditEvent.select().where(AuditEvent.mac.is_null(False) & (AuditEvent.mac != "")
                                               & (AuditEvent.seq < unsealed[-1].seq)).order_by(AuditEvent.seq).first())
            if later is not None:
                # Only a leading run of events can predate the key; a gap after a sealed one was erased.
                raise NotSealed(f"event #{unsealed[-1].seq} has no MAC but the earlier event #{later.seq} has one: "
                                f"its MAC was erased; not sealing")
        for event in unsealed:
            AuditEvent.update(mac=audit.mac(event.seq, event.hash)).where(AuditEvent.id == event.id).execute()
        if unsealed:
            done.append(f"sealed events #{unsealed[0].seq}–#{unsealed[-1].seq} with the audit key")
        recorded: dict[int, signed.Recorded] = {}
        for event in AuditEvent.select().order_by(AuditEvent.seq):
            signed.collect(event, recorded)
        adopted = [signed.record(s) for s in Signature.select().order_by(Signature.id) if s.id not in recorded]
        if adopted:
            audit.append(permit_no=None, actor="系统", action="adopt-signatures", data={"signatures": adopted},
                         at=now or utcnow())
            done.append(f"recorded {len(adopted)} signatures written before signatures were audited")
    point = checkpoints.write(now=now)
    if point is not None:
        done.append(f"checkpoint of event #{point.seq} appended to line {point.line}")
    return done or ["nothing to seal: the chain is empty"]
