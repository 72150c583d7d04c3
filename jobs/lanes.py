"""The worker processes: the alarm lane, long-lived and warm, beside the ordinary forking lane.

An alarm card must not wait for a fork, an import, a token fetch or a TLS handshake, or for rq's
bookkeeping, so the alarm lane is a loop in the worker process itself (serve_alarms) that
pops outbox ids from a plain Redis list; its channel adapters keep their platform token and HTTP
sessions from one card to the next. The ordinary lane forks a work horse per job as rq does by
default: an export that leaks memory or crashes takes only its horse with it. The two lanes are
separate processes, so no backlog in one can delay the other.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from rq import Worker

import models
from models.db import after_fork

from park import enterprises

from . import alarm_queue
from .connection import ALARM, queue, redis
from .tenancy import EnterpriseJob, EnterpriseQueue, each, on

log = logging.getLogger(__name__)
APP = Path(__file__).resolve().parents[1] / "app.py"


class OrdinaryWorker(Worker):
    """rq's forking worker, whose horse drops the database connections it inherited and runs each job on its
    enterprise's database."""

    job_class = EnterpriseJob
    queue_class = EnterpriseQueue

    def main_work_horse(self, job, queue):
        after_fork()
        enterprises.after_fork()
        return super().main_work_horse(job, queue)


def warm() -> None:
    """Build the configured channels and fetch their tokens now, not when the first alarm comes."""
    import settings
    from bot import registry
    # What the first alarm would otherwise import: the card builders and the channels' renderers.
    import cards.alarm, cards.build, cards.wecom  # noqa: E401,F401
    conf = settings.current()
    if conf.dingtalk:
        import bot.dingtalk_channel, cards.dingtalk  # noqa: E401,F401
    for platform, configured in (("wecom", conf.wecom), ("dingtalk", conf.dingtalk)):
        if configured is None:
            continue
        try:
            adapter = registry.adapter_for(platform)
            # WeCom's client and DingTalk's oapi client each read their token through Redis.
            for client in (getattr(adapter, "client", None), getattr(adapter, "oapi", None)):
                if client is not None:
                    client.access_token  # noqa: B018 - fetched for its side effect
        except Exception as exc:  # noqa: BLE001 - the first job fetches it again, and reports then
            log.warning("could not warm the %s channel: %s", platform, exc)


def tick(names: list[str]) -> None:
    """Do a worker's periodic share: the alarm lane re-sends due alarms itself, then every lane sweeps the outbox.

    The re-sends are the alarm lane's own so that no scan waiting in the ordinary queue behind an
    export can hold them back; two processes doing it at once re-send once, as each alarm is locked
    and its due time checked again.
    """
    from models import utcnow
    from sensors import alarms
    from .delivery import sweep

    def share() -> None:
        if ALARM in names:
            alarms.resend_due(utcnow())
        sweep()
    each(share)   # the deployment's own database, then each park enterprise's


def work(names: list[str], *, burst: bool, quiet: bool) -> None:
    """Serve the named queues in this process: the alarm lane alone without forking, else rq's forking worker."""
    level = logging.WARNING if quiet else logging.INFO
    if names == [ALARM]:
        logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        warm()
        serve_alarms(burst=burst)
        return
    # rq forks a work horse per job: import what jobs use once here, or every fork pays for
    # importing the SDKs and the card builders again (about 150 ms a job).
    import bot.registry, bot.wecom, cards.alarm, cards.build, cards.wecom, jobs.media, jobs.scans  # noqa: E401,F401
    import settings
    if settings.current().dingtalk:
        import bot.dingtalk, bot.dingtalk_channel, cards.dingtalk  # noqa: E401,F401
    models.db.release()
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
    while True:
        worker = _ordinary_worker(names)
        try:
            worker.work(burst=burst, logging_level=level)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.error("worker lost Redis: %s", exc)   # rq's own teardown, after it gave up on a lost Redis
        # rq marks a stop asked for by SIGTERM or SIGINT with its date, and only a stop asked for
        # mid-job with _stop_requested: an idle worker's stop leaves that False.
        if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
            return
        # rq ends its loop on any error it meets outside a job, such as Redis going away while a horse
        # works (its monitor writes the job's time there). The process, and the alarm lane that dies
        # with it, must outlive that: a new rq worker once Redis answers.
        log.error("worker stopped without being asked to; starting again once Redis answers")


def _ordinary_worker(names: list[str]) -> OrdinaryWorker:
    """Build rq's worker for names once Redis answers.

    rq's worker reaches Redis as it is built and gives up at once when Redis is away: the process
    would end, and its alarm lane's processes with it (they die with their parent), though they wait
    for Redis by themselves. A supervisor's restart then costs a cold start of every lane, seconds in
    which no alarm card goes out after Redis is back.
    """
    import time
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
    from .alarm_queue import WAIT
    while True:
        try:
            return OrdinaryWorker([queue(name) for name in names], connection=redis())
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.error("worker cannot reach Redis, trying again: %s", exc)
            time.sleep(WAIT)


def _me() -> str:
    import socket
    return f"{socket.gethostname()}:{os.getpid()}"


def serve_alarms(*, burst: bool, stop: threading.Event | None = None) -> int:
    """Deliver alarm cards as they are pushed (until stop, or until the list is empty when burst)."""
    import time
    from models import database
    from .alarm_queue import LOOPS, WAIT, pop_entry
    from .delivery import deliver
    if stop is None and not burst and threading.current_thread() is threading.main_thread():
        stop = threading.Event()
        # As rq's warm shutdown: the card in hand is finished, then the loop ends.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        try:
            if not burst:
                redis().zadd(LOOPS, {_me(): time.time()})
            entry = pop_entry(block=not burst)
        except Exception as exc:  # noqa: BLE001 - Redis away: the outbox keeps the rows, retry shortly
            log.error("alarm lane cannot reach Redis: %s", exc)
            if burst:
                raise
            stop.wait(WAIT)
            continue
        if entry is None:
            if burst:
                break
            continue
        code, outbox_id = entry
        try:
            with on(code):
                log.info("alarm lane: outbox %s%s %s", f"{code}:" if code else "", outbox_id, deliver(outbox_id))
            done += 1
        except Exception:  # noqa: BLE001 - the row stays leased or pending; the sweep brings it back
            log.exception("alarm lane: outbox %s raised", outbox_id)
        finally:
            database.close()   # back to the pool between cards, as rq's job teardown did
    if not burst:
        try:
            redis().zrem(LOOPS, _me())
        except Exception:  # noqa: BLE001 - its entry ages out anyway
            pass
    return done


class AlarmLane:
    """count child `python app.py worker --queues alarm` processes, each restarted whenever it dies until stop().

    Several, because one alarm's delivery mostly waits (on the database, on the platform): while one
    process waits for WeCom to answer, the next alarm is already being sent by another.
    """

    def __init__(self, *, count: int, quiet: bool, sweep_every: float):
        self.argv = [sys.executable, str(APP), "worker", "--queues", ALARM, "--sweep-every", str(sweep_every)]
        if quiet:
            self.argv.append("--quiet")
        self.processes: list[subprocess.Popen | None] = [None] * count
        self.stopping = threading.Event()
        self.watchers = [threading.Thread(target=self._watch, args=(k,), name=f"alarm-lane-{k}", daemon=True)
                         for k in range(count)]

    def start(self) -> "AlarmLane":
        """Start the children and keep them running."""
        for k, watcher in enumerate(self.watchers):
            self._spawn(k)
            watcher.start()
        return self

    def _spawn(self, k: int) -> None:
        self.processes[k] = subprocess.Popen(self.argv, env={**os.environ}, preexec_fn=_die_with_parent)

    def _watch(self, k: int) -> None:
        while not self.stopping.is_set():
            code = self.processes[k].wait()
            if self.stopping.is_set():
                return
            log.error("alarm lane %s exited with %s; starting it again", k, code)
            self.stopping.wait(1)   # a child that cannot start must not spin
            if not self.stopping.is_set():
                self._spawn(k)

    def stop(self) -> None:
        """Stop the children (rq finishes the job in hand first) and wait for them."""
        self.stopping.set()
        running = [p for p in self.processes if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _die_with_parent() -> None:
    # A worker killed outright must not leave its alarm lane running unsupervised beside the next one.
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:
        pass
