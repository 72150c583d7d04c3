"""Jobs of a park's enterprises: enqueued under an enterprise's database, they carry its code and a worker
runs them there; the alarm lane and the scheduler's scans do the same."""
from __future__ import annotations

import pytest
from rq import SimpleWorker

from jobs import alarm_queue, scheduler, tenancy
from jobs.connection import queue, redis
from jobs.lanes import OrdinaryWorker
from models import Department, Person, database
from models.db import bound
from models.org import SAFETY
from park import enterprises
from tests.handlers.api.test_open_api import api  # noqa: F401 - the app on the sample plant and the run's Redis

MARK = "乙厂专员"


def marked() -> str:
    """Say which database the job ran on: the enterprise's has its own 乙厂专员."""
    return "yi" if Person.select().where(Person.name == MARK).exists() else "home"


@pytest.fixture
def yi(api, enterprise_url):
    enterprises.add("yi", "乙化工", enterprise_url("yi"))
    with bound(enterprises.database_of("yi")):
        unit = Department.create(code="YI-SAFE", name="乙厂安全部", kind=SAFETY)
        Person.create(name=MARK, wecom_userid="yionly", department=unit)
    return "yi"


def work() -> None:
    SimpleWorker([queue("default")], connection=redis(), job_class=OrdinaryWorker.job_class).work(burst=True)


def test_a_job_enqueued_under_an_enterprise_carries_it_and_runs_on_its_database(yi):
    home_job = queue("default").enqueue(marked, job_id="look")
    with bound(enterprises.database_of(yi)):
        yi_job = queue("default").enqueue(marked, job_id="look")   # the same name: another enterprise's job
    assert (home_job.id, yi_job.id) == ("look", "yi_look")
    assert home_job.meta.get(tenancy.META) is None and yi_job.meta[tenancy.META] == "yi"
    work()
    home_job.refresh(), yi_job.refresh()
    assert (home_job.return_value(), yi_job.return_value()) == ("home", "yi")
    assert database.obj is database.home   # the worker gave the context back


def test_the_forking_worker_runs_an_enterprises_job_in_its_horse_on_the_enterprises_database(yi):
    with bound(enterprises.database_of(yi)):
        job = queue("default").enqueue(marked)
    OrdinaryWorker([queue("default")], connection=redis()).work(burst=True)
    job.refresh()
    assert job.return_value() == "yi"


def test_a_job_of_an_enterprise_no_longer_registered_fails_and_runs_nowhere_else(yi):
    from models.enterprise import Enterprise
    with bound(enterprises.database_of(yi)):
        job = queue("default").enqueue(marked)
    Enterprise.delete().where(Enterprise.code == yi).execute()
    work()
    job.refresh()
    assert job.is_failed and "没有编码为“yi”的企业" in job.latest_result().exc_string


def test_the_alarm_lane_names_each_rows_enterprise(yi):
    assert alarm_queue.push([7]) == 1
    with bound(enterprises.database_of(yi)):
        assert alarm_queue.push([7]) == 1   # yi's row 7 is another row than the deployment's
        assert alarm_queue.push([7]) == 0
    assert [alarm_queue.pop_entry(block=False) for _ in range(3)] == [(None, 7), ("yi", 7), None]


def test_the_leading_scheduler_enqueues_each_scan_for_the_deployment_and_each_enterprise(yi):
    lock = scheduler.LeaderLock(redis(), token="a")
    added = []

    def enqueue(func, job_id, **options) -> bool:
        job = queue("default").enqueue(func, job_id=job_id, **{k: v for k, v in options.items() if k != "ttl"})
        added.append((job.id, job.meta.get(tenancy.META)))
        return True

    now = 1_800_000_000.0
    assert scheduler.tick(lock, enqueue=enqueue, now=now, every=30)
    scans = [(i, code) for i, code in added if "scan-" in i]
    assert scans == [(f"scan-{int(now // 30)}", None), (f"yi_scan-{int(now // 30)}", "yi")]
    # The once-a-day scans are remembered per enterprise: each gets its own.
    days = [i for i, _ in added if "certificates-" in i]
    assert len(days) in (0, 2) and all(i.startswith("yi_") for i in days[1:])
