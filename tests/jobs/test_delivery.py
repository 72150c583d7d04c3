"""Outbox delivery: each row sent once, refusals backed off, crashes recovered by the sweep."""
import time
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker

from bot.base import PlatformError, RateLimited
from jobs import delivery
from models import Outbox, utcnow
from tests.conftest import MORNING
from workflow.walkthrough import draft
from workflow import submit


class FakeChannel:
    """Records deliveries; raises the queued errors first."""

    def __init__(self):
        self.sent, self.errors = [], []

    def deliver(self, row):
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(row.id)


@pytest.fixture
def channel(monkeypatch):
    fake = FakeChannel()
    monkeypatch.setattr("jobs.delivery._send", fake.deliver)
    return fake


@pytest.fixture
def rows(plant, person):
    """Submit a permit so that the engine writes outbox rows (the planner's card)."""
    permit = draft("hot_work", start=MORNING)
    submit(permit.no, by=person("zhuyan"), now=MORNING - timedelta(hours=1))
    return [row.id for row in Outbox.select().order_by(Outbox.id)]


def test_a_row_is_sent_once_however_often_it_is_delivered(rows, channel):
    assert delivery.deliver(rows[0]) == "sent"
    assert delivery.deliver(rows[0]) == "skipped"
    assert channel.sent == [rows[0]]
    assert Outbox.get_by_id(rows[0]).state == "sent"


def test_a_retryable_refusal_backs_off_and_the_sweep_brings_it_back(rows, channel):
    channel.errors.append(PlatformError(45009, "api freq out of limit", retryable=True))
    assert delivery.deliver(rows[0]) == "retry later"
    row = Outbox.get_by_id(rows[0])
    assert (row.state, row.attempts) == ("pending", 1) and row.lease_until > utcnow()
    assert rows[0] not in delivery.due_rows()   # still backing off
    Outbox.update(lease_until=utcnow() - timedelta(seconds=1)).where(Outbox.id == rows[0]).execute()
    assert rows[0] in delivery.due_rows()
    assert delivery.deliver(rows[0]) == "sent"


def test_an_alarm_card_backs_off_seconds_where_an_ordinary_card_backs_off_minutes(rows, channel):
    ordinary = rows[0]
    first = Outbox.get_by_id(ordinary)
    alarm = Outbox.create(person=first.person, permit_no=first.permit_no, kind="alarm", dedupe_key="alarm:1:test",
                          payload={"kind": "alarm", "alarm": 1, "round": 1}).id
    Outbox.update(attempts=6).where(Outbox.id.in_([ordinary, alarm])).execute()   # the 7th attempt fails
    for row_id in (ordinary, alarm):
        channel.errors.append(PlatformError(-1, "system busy", retryable=True))
        assert delivery.deliver(row_id) == "retry later"
    waits = {i: Outbox.get_by_id(i).lease_until - utcnow() for i in (ordinary, alarm)}
    assert waits[alarm] <= timedelta(seconds=delivery.ALARM_RETRY_CAP)
    assert waits[ordinary] > timedelta(minutes=2)


def test_a_rate_limited_row_waits_as_long_as_the_limit_says(rows, channel):
    channel.errors.append(RateLimited(42.0, "30/min per member"))
    assert delivery.deliver(rows[0]) == "rate limited"
    wait = Outbox.get_by_id(rows[0]).lease_until - utcnow()
    assert timedelta(seconds=40) <= wait <= timedelta(seconds=43)
    assert channel.sent == []


def test_a_permanent_refusal_is_marked_failed_with_the_reason(rows, channel):
    channel.errors.append(PlatformError(81013, "user not found", retryable=False))
    assert delivery.deliver(rows[0]) == "failed"
    row = Outbox.get_by_id(rows[0])
    assert row.state == "failed" and "81013" in row.last_error
    assert rows[0] not in delivery.due_rows()


def test_a_row_held_by_a_live_worker_is_not_sent_again(rows, channel):
    Outbox.update(state="sending", lease_until=utcnow() + timedelta(minutes=1)).where(
        Outbox.id == rows[0]).execute()
    assert delivery.deliver(rows[0]) == "skipped"
    assert rows[0] not in delivery.due_rows()


def test_a_row_whose_worker_died_is_swept_and_sent_by_a_real_worker(rows, channel, redis_conn, monkeypatch):
    # The worker died after claiming: the row sits in "sending" with an expired lease.
    Outbox.update(state="sending", lease_until=utcnow() - timedelta(seconds=1)).where(
        Outbox.id == rows[0]).execute()
    queue = Queue("deliver-test", connection=redis_conn)
    monkeypatch.setattr("jobs.connection.queue", lambda name="deliver": queue)
    assert delivery.sweep() == len(rows)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert sorted(channel.sent) == sorted(rows)
    assert {r.state for r in Outbox.select()} == {"sent"}


def test_threads_racing_to_the_first_redis_call_share_one_connection(instance, monkeypatch, redis_url):
    import threading
    import settings
    from jobs import connection
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.configure()
    connection._connect.cache_clear()
    real = connection.Redis

    class SlowToConnect:
        """Open the window in which a second thread could start a second server."""
        @staticmethod
        def from_url(url, **options):
            import time
            time.sleep(0.05)
            return real.from_url(url, **options)

    monkeypatch.setattr(connection, "Redis", SlowToConnect)
    made, barrier = [], threading.Barrier(8)

    def first_call():
        barrier.wait()
        made.append(connection.redis())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({id(conn) for conn in made}) == 1
    connection._connect.cache_clear()
    settings.configure()


@pytest.mark.parametrize("status", ["queued", "deferred", "scheduled"])
def test_a_job_marked_waiting_in_no_queue_is_enqueued_again_by_the_sweep(rows, channel, redis_conn, monkeypatch,
                                                                         status):
    from rq.job import Job, JobStatus
    queue = Queue("deliver-test", connection=redis_conn)
    monkeypatch.setattr("jobs.connection.queue", lambda name="deliver": queue)
    delivery.enqueue(rows)
    # What a SIGKILL at the wrong moment leaves: the job's hash says it waits, no queue or registry holds it.
    lost = f"deliver-{rows[0]}"
    redis_conn.lrem(queue.key, 0, lost)
    Job.fetch(lost, connection=redis_conn).set_status(JobStatus(status))
    assert queue.get_job_position(lost) is None and lost not in queue.deferred_job_registry \
        and lost not in queue.scheduled_job_registry
    assert delivery.sweep() == len(rows)
    assert queue.get_job_position(lost) is not None
    # The jobs that really wait are left alone: one job per row, none twice.
    assert sorted(queue.job_ids) == sorted(f"deliver-{i}" for i in rows)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert sorted(channel.sent) == sorted(rows)
    assert {r.state for r in Outbox.select()} == {"sent"}


def test_a_job_whose_execution_ended_meanwhile_does_not_stop_the_sweep(rows, channel, redis_conn, monkeypatch):
    from rq.job import Job, JobStatus
    queue = Queue("deliver-test", connection=redis_conn)
    monkeypatch.setattr("jobs.connection.queue", lambda name="deliver": queue)
    delivery.enqueue(rows)
    # A finished job as rq leaves it while a worker is still tidying up: marked finished, its
    # execution's id still listed, the execution itself already gone. Deleting it then raises.
    ended = Job.fetch(f"deliver-{rows[0]}", connection=redis_conn)
    redis_conn.lrem(queue.key, 0, ended.id)
    ended.set_status(JobStatus.FINISHED)
    redis_conn.zadd(ended.execution_registry.key, {"gone": time.time() + 600})
    with pytest.raises(ValueError):
        Job.fetch(ended.id, connection=redis_conn).delete()
    Outbox.update(lease_until=utcnow() - timedelta(seconds=1)).where(Outbox.id.in_(rows)).execute()
    assert delivery.sweep() == len(rows)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert sorted(channel.sent) == sorted(rows)
