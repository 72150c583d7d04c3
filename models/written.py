"""The outbox rows one request writes, collected where they are written, so it enqueues exactly those."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_current: ContextVar["Written | None"] = ContextVar("outbox_written", default=None)


class Written:
    """The dedupe keys of the outbox rows written while collecting."""

    def __init__(self):
        self.keys: list[str] = []
        self.commits = 0   # outermost transactions committed while collecting


@contextmanager
def collecting(written: Written | None = None) -> Iterator[Written]:
    """Collect the outbox rows written in this context (a thread or task of its own sees its own)."""
    written = written if written is not None else Written()
    token = _current.set(written)
    try:
        yield written
    finally:
        _current.reset(token)


def note(dedupe_key: str | None) -> None:
    """Record that an outbox row with this key is being written, if someone collects."""
    written = _current.get()
    if written is not None and dedupe_key:
        written.keys.append(dedupe_key)


def note_commit() -> None:
    """Record that a transaction committed, if someone collects."""
    written = _current.get()
    if written is not None:
        written.commits += 1
