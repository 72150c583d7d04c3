"""The readings' retention job: enqueued once per hour by the leading scheduler, run by a real rq worker."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue, SimpleWorker

from jobs.scheduler import LeaderLock, enqueue_unique, prune_tick
from models import GasReading, ReadingRollup, Sensor, utcnow


def test_the_leader_enqueues_one_prune_per_hour_and_a_worker_rolls_the_readings_up(plant, redis_conn):
    sensor = Sensor.create(code="GD-0001", name="检测仪", area="罐区", kind="固定", gases=["EX"],
                           interval_seconds=1, secret="s")
    old = (utcnow() - timedelta(hours=3)).replace(second=0)   # five readings in one minute
    GasReading.insert_many([dict(device=sensor.code, taken_at=old + timedelta(seconds=i), ex=float(i))
                            for i in range(5)]).execute()
    queue = Queue("default", connection=redis_conn)
    leader, standby = LeaderLock(redis_conn, token="a"), LeaderLock(redis_conn, token="b")
    leader.acquire_or_renew()
    standby.acquire_or_renew()

    def enqueue(func, job_id, **options) -> bool:
        return enqueue_unique(queue, func, job_id, **options)

    now = 1_800_000_000.0
    assert prune_tick(leader, enqueue=enqueue, now=now)
    assert not prune_tick(leader, enqueue=enqueue, now=now + 60)     # same hour: refused by its id
    assert not prune_tick(standby, enqueue=enqueue, now=now)
    assert queue.count == 1 and queue.jobs[0].id == f"readings-prune-{int(now // 3600)}"

    SimpleWorker([queue], connection=redis_conn).work(burst=True)

    assert not GasReading.select().exists()
    rollup = ReadingRollup.get()
    assert (rollup.device, rollup.count, rollup.ex_min, rollup.ex_max, rollup.ex_last) == ("GD-0001", 5, 0.0, 4.0, 4.0)
