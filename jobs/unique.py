"""Enqueueing a job at most once: its id names the work, and a second enqueue of that id is refused."""
from __future__ import annotations

from typing import Callable

from rq import Queue
from rq.exceptions import DuplicateJobError


def enqueue_unique(queue: Queue, func: Callable, job_id: str, **options) -> bool:
    """Enqueue func under job_id unless a job of that id already exists; return whether it was added."""
    try:
        # Without unique=True, rq overwrites the job and pushes its id a second time: it would run twice.
        queue.enqueue(func, job_id=job_id, unique=True, **options)
    except DuplicateJobError:
        return False
    return True
