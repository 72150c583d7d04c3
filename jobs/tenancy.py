"""Jobs of a park's enterprises: each carries its enterprise's code, and runs on that enterprise's database.

A job enqueued while an enterprise's database is bound (its API request, its chat callback, its share
of a scan) names the enterprise in its meta and in its id; the worker binds that database around the
job, so the job's ids (an outbox row, a permit) are read where they were written. Ids are per
database, so two enterprises' outbox row 7 are two jobs, never one refused as a duplicate.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rq import Queue
from rq.job import Job

from park import enterprises

META = "enterprise"


class UnknownEnterprise(LookupError):
    """A job names an enterprise the deployment no longer knows: it fails, and runs on no other database."""


def scoped(name: str | None) -> str | None:
    """Return the id a job named name gets in the bound enterprise (the name itself on the deployment's own)."""
    code = enterprises.current()
    return f"{code}_{name}" if code and name else name


@contextmanager
def on(code: str | None) -> Iterator[None]:
    """Run the block on the enterprise's database (the deployment's own when code is None)."""
    if not code:
        yield
        return
    if enterprises.database_of(code) is None:
        raise UnknownEnterprise(f"没有编码为“{code}”的企业")
    with enterprises.entered(code):   # its database, and its own chat apps for what the job sends
        yield


def each(work: Callable[[], object]) -> dict[str | None, object]:
    """Run work on the deployment's database, then on each enterprise's; return each one's result by code.

    One enterprise's failure is logged and does not keep the others from their turn.
    """
    import logging
    results: dict[str | None, object] = {None: work()}
    for code in enterprises.codes():
        try:
            with on(code):
                results[code] = work()
        except Exception:  # noqa: BLE001 - an enterprise whose database is down must not stop the rest
            logging.getLogger(__name__).exception("enterprise %s: periodic work failed", code)
    return results


class EnterpriseJob(Job):
    """An rq job that runs, with its callbacks, on the database of the enterprise it names."""

    def perform(self):
        with on(self.meta.get(META)):
            return super().perform()

    def execute_success_callback(self, *args, **kwargs):
        with on(self.meta.get(META)):
            return super().execute_success_callback(*args, **kwargs)

    def execute_failure_callback(self, *args, **kwargs):
        with on(self.meta.get(META)):
            return super().execute_failure_callback(*args, **kwargs)

    def execute_stopped_callback(self, *args, **kwargs):
        with on(self.meta.get(META)):
            return super().execute_stopped_callback(*args, **kwargs)


class EnterpriseQueue(Queue):
    """An rq queue whose jobs carry the enterprise bound where they are enqueued."""

    job_class = EnterpriseJob

    def create_job(self, func, *args, job_id: str | None = None, meta: dict | None = None, **kwargs) -> Job:
        code = enterprises.current()
        if code:
            meta = {**(meta or {}), META: code}
            job_id = scoped(job_id)
        return super().create_job(func, *args, job_id=job_id, meta=meta, **kwargs)
