"""The long-running processes: the web server, the rq worker, the scheduler and DingTalk's Stream connection."""
from __future__ import annotations

import click
from flask import current_app

import models

from .common import current_settings as _settings


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host, port):
    """Serve the web app (callbacks, board pages) with a threaded development server.

    Deployments run gunicorn instead: gunicorn 'app:create_app()'.
    """
    from werkzeug.serving import run_simple
    run_simple(host, port, current_app._get_current_object(), threaded=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--sweep-every", default=15.0, help="seconds between outbox sweeps")
@click.option("--quiet", is_flag=True, help="log only warnings and errors")
def worker(burst, sweep_every, quiet):
    """Run an rq worker for the delivery and default queues, sweeping the outbox as it goes."""
    import logging
    import threading
    from rq import Worker
    from jobs.connection import QUEUES, queue, redis
    from jobs.delivery import sweep
    app = current_app._get_current_object()

    def sweeper():
        # Each worker also re-enqueues what is due, so messages go out while no scheduler runs;
        # a duplicate job is harmless because a row is leased before it is sent.
        with app.app_context():
            while True:
                try:
                    sweep()
                except Exception:  # a sweep that fails now is retried at the next tick
                    app.logger.exception("outbox sweep failed")
                stop.wait(sweep_every)

    stop = threading.Event()
    if not burst:
        threading.Thread(target=sweeper, daemon=True).start()
    else:
        sweep()
    # rq forks a work horse per job: import what jobs use once here, or every fork pays for
    # importing wechatpy and the card builders again (about 150 ms a job).
    import bot.registry, bot.wecom, cards.alarm, cards.build, cards.wecom, jobs.media, jobs.scans  # noqa: E401,F401
    if _settings().dingtalk:
        import bot.dingtalk, bot.dingtalk_channel, cards.dingtalk  # noqa: E401,F401
    # The fork must open its own database connection, not share ours.
    models.database.close()
    Worker([queue(name) for name in QUEUES], connection=redis()).work(
        burst=burst, logging_level=logging.WARNING if quiet else logging.INFO)
    stop.set()


@click.command("scheduler")
@click.option("--every", type=float, default=None, help="seconds between scans (SCAN_EVERY_SECONDS)")
def scheduler(every):
    """Enqueue the periodic scans; a second scheduler stays idle until the active one dies."""
    import logging
    import signal
    import threading
    from jobs.scheduler import run
    conf = _settings()
    every = conf.scan_every_seconds if every is None else every
    lock_ttl = conf.scheduler_lock_seconds
    for name, value in (("SCAN_EVERY_SECONDS", every), ("SCHEDULER_LOCK_SECONDS", lock_ttl)):
        if value <= 0:
            raise click.ClickException(f"{name}={value} must be more than 0 seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)   # not a line per tick
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())   # hand the lock over at once on shutdown
    try:
        run(every=every, lock_ttl=lock_ttl, stop=stop)
    except KeyboardInterrupt:
        click.echo("已停止")


@click.command("dingtalk-stream")
def dingtalk_stream():
    """Hold DingTalk's Stream connection: card clicks and robot messages arrive over it (DINGTALK_MODE=stream).

    One process is enough; a second one is a standby that DingTalk also delivers to.
    """
    import logging
    import signal
    from bot.dingtalk_stream import StreamConnection
    from bot.registry import dingtalk_adapter
    from handlers.web.callbacks import handle_stream_event
    conf = _settings()
    if conf.dingtalk is None:
        raise click.ClickException("未配置钉钉：请设置 DINGTALK_APP_KEY、DINGTALK_APP_SECRET、DINGTALK_CORP_ID")
    if conf.dingtalk.mode != "stream":
        raise click.ClickException("DINGTALK_MODE=http：回调由 serve 接收，无需 Stream 连接")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The connection's threads open their own database connections; ours would be shared otherwise.
    models.database.close()
    connection = StreamConnection(dingtalk_adapter(), on_event=handle_stream_event, api_base=conf.dingtalk.api_base)
    signal.signal(signal.SIGTERM, lambda *_: connection.stop())
    try:
        connection.run()
    except KeyboardInterrupt:
        click.echo("已停止")
