"""Answers to a person in chat, written to the outbox so they are delivered like everything else."""
from __future__ import annotations

from bot.base import Event
from models import Outbox, Person


class Replier:
    """Queue replies to one event; a retried event writes the same rows, so nothing is sent twice."""

    def __init__(self, event: Event, person: Person):
        self.event, self.person, self.count = event, person, 0

    def __call__(self, text: str, permit_no: str | None = None) -> None:
        self.count += 1
        (Outbox.insert(permit_no=permit_no, person=self.person, kind="reply",
                       payload={"kind": "reply", "text": text, "permit_no": permit_no},
                       dedupe_key=f"reply:{self.event.dedupe_key}:{self.count}"[:191])
         .on_conflict_ignore().execute())
