"""What the engine tells whom after a command, written to the outbox in the command's transaction."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from models import Outbox

# act: it is your turn (a card with buttons); info: for your information; stop: stop work now;
# outcome: the step you were asked to sign was settled by someone (update your card).
KINDS = ("act", "info", "stop", "outcome")


@dataclass(frozen=True)
class Notification:
    person_id: int
    kind: str
    text: str
    step: str | None = None


def queue(permit_no: str, event_seq: int, notes: list[Notification]) -> None:
    """Write one outbox row per notification, keyed so that a retry never writes it twice."""
    seen = set()
    for note in notes:
        key = f"{permit_no}:{event_seq}:{note.person_id}:{note.kind}:{note.step or ''}"
        if key in seen:
            continue
        seen.add(key)
        Outbox.create(permit_no=permit_no, person=note.person_id, kind=note.kind,
                      payload={**asdict(note), "permit_no": permit_no, "event": event_seq},
                      dedupe_key=key)
