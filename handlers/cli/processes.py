"""The long-running processes: the web server, the rq worker, the scheduler and DingTalk's Stream connection."""
from __future__ import annotations

import click
from flask import current_app

import models

from .common import current_settings as _settings


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", type=int, default=None, help="gunicorn processes (WEB_CONCURRENCY, default 2)")
@click.option("--threads", type=int, default=None, help="request threads per process (WEB_THREADS, default 8)")
@click.option("--timeout", type=int, default=None, help="seconds a request may take (WEB_TIMEOUT, default 30)")
@click.option("--dev", is_flag=True, help="the threaded development server instead of gunicorn")
def serve(host, port, workers, threads, timeout, dev):
    """Serve the web app (callbacks, sensor webhook, board pages) with gunicorn."""
    conf = _settings()
    workers, threads = workers or conf.web_concurrency, threads or conf.web_threads
    timeout = timeout or conf.web_timeout
    if min(workers, threads, timeout) < 1:
        raise click.ClickException("--workers、--threads、--timeout 须为正整数")
    if threads > conf.db_pool_size:
        raise click.ClickException(f"每个进程 {threads} 个线程多于数据库连接池的 {conf.db_pool_size} 个连接："
                                   "请调大 DB_POOL_SIZE 或调小 WEB_THREADS")
    _register_card_route()
    if dev:
        from werkzeug.serving import run_simple
        run_simple(host, port, current_app._get_current_object(), threaded=True)
        return
    from .serving import serve as run_gunicorn
    run_gunicorn(host=host, port=port, workers=workers, threads=threads, timeout=timeout)


def _register_card_route() -> None:
    """In DingTalk HTTP mode, register where card clicks go before serving; a refusal is logged, not fatal."""
    import logging
    from bot.base import PlatformError
    from .dingtalk_setup import register_card_route
    try:
        register_card_route()
    except PlatformError as exc:   # the web app still serves everything else; dingtalk-setup can retry
        logging.getLogger(__name__).error("dingtalk card callback address not registered: %s "
                                          "(run python app.py dingtalk-setup)", exc)


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--sweep-every", default=15.0, help="seconds between outbox sweeps")
@click.option("--quiet", is_flag=True, help="log only warnings and errors")
@click.option("--queues", default=None, help="comma separated, of alarm, deliver, default (default: all)")
@click.option("--alarm-workers", type=int, default=None,
              help="processes serving the alarm lane beside the others (ALARM_WORKERS, default 2)")
def worker(burst, sweep_every, quiet, queues, alarm_workers):
    """Run rq workers, sweeping the outbox as they go; the alarm lane runs in a process of its own."""
    import threading
    from jobs import lanes
    from jobs.connection import ALARM, QUEUES
    names = [n.strip() for n in (queues or ",".join(QUEUES)).split(",") if n.strip()]
    unknown = [n for n in names if n not in QUEUES]
    if unknown or not names:
        raise click.ClickException(f"没有队列 {'、'.join(unknown) or '（空）'}，可选：{'、'.join(QUEUES)}")
    alarm_workers = _settings().alarm_workers if alarm_workers is None else alarm_workers
    if alarm_workers < 1:
        raise click.ClickException("--alarm-workers 须为正整数：报警通道不能没有进程")
    # The relay latency is observed here; serve's /metrics reads it from the shared directory.
    from monitoring.metrics import use_directory
    use_directory(_settings().instance_path / "metrics")
    app = current_app._get_current_object()

    def sweeper():
        # Each worker also re-enqueues what is due, so messages go out while no scheduler runs;
        # a duplicate job is harmless because a row is leased before it is sent.
        with app.app_context():
            while True:
                try:
                    lanes.tick(names)
                except Exception:  # a sweep that fails now is retried at the next tick
                    app.logger.exception("outbox sweep failed")
                finally:
                    models.database.close()   # back to the pool between ticks
                stop.wait(sweep_every)

    stop = threading.Event()
    if burst:
        lanes.tick(names)
        # One process: the alarm lane drains first, then the rest.
        rest = [n for n in names if n != ALARM]
        if ALARM in names:
            lanes.work([ALARM], burst=True, quiet=quiet)
        if rest:
            lanes.work(rest, burst=True, quiet=quiet)
        return
    alarm_lane = None
    if ALARM in names and len(names) > 1:
        alarm_lane = lanes.AlarmLane(count=alarm_workers, quiet=quiet, sweep_every=sweep_every).start()
        names = [n for n in names if n != ALARM]   # the children serve it (and re-send due alarms)
    threading.Thread(target=sweeper, daemon=True).start()
    try:
        lanes.work(names, burst=False, quiet=quiet)
    finally:
        stop.set()
        if alarm_lane is not None:
            alarm_lane.stop()


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
    from handlers.chat.inbox import sweep
    from datetime import timedelta
    with models.database.connection_context():
        # Whatever a killed predecessor kept but never handled: DingTalk will not send it again.
        swept = sweep(older_than=timedelta(0))
    if swept:
        click.echo(f"收件箱中有 {swept} 条未办理的消息，已重新排队办理")
    models.database.close()
    connection = StreamConnection(dingtalk_adapter(), on_event=handle_stream_event, api_base=conf.dingtalk.api_base)
    signal.signal(signal.SIGTERM, lambda *_: connection.stop())
    try:
        connection.run()
    except KeyboardInterrupt:
        click.echo("已停止")


@click.command("wecom-ws")
@click.option("--lock-seconds", type=float, default=20.0, help="a holder silent this long loses the robot")
def wecom_ws(lock_seconds):
    """Hold WeCom's robot long connection (WECOM_MODE=ws); a second process for the same robot waits.

    With --enterprise CODE: that park enterprise's robot, its events kept in its database.
    """
    import logging
    import signal
    from bot.wecom_ws import WsConnection
    from handlers.chat.longconn import handle_ws_event
    from jobs.connection import redis
    from jobs.scheduler import LeaderLock
    conf = _settings()
    if conf.wecom_ws is None:
        raise click.ClickException("未启用企业微信长连接：请设置 WECOM_MODE=ws、WECOM_BOT_ID、WECOM_BOT_SECRET"
                                   "（园区企业：python app.py enterprise chat CODE WECOM_MODE=ws WECOM_BOT_ID=… "
                                   "WECOM_BOT_SECRET=… 及其企业微信应用的 WECOM_* 变量）")
    if lock_seconds <= 0:
        raise click.ClickException("--lock-seconds 须大于 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    models.database.close()   # the connection's threads open their own database connections
    ws = conf.wecom_ws
    connection = WsConnection(bot_id=ws.bot_id, secret=ws.secret, url=ws.ws_url, redis=redis(),
                              lock=LeaderLock(redis(), key=f"ws:wecom:leader:{ws.bot_id}", ttl=lock_seconds),
                              on_event=handle_ws_event, ping=ws.ping_seconds)
    signal.signal(signal.SIGTERM, lambda *_: connection.stop())
    try:
        connection.run()
    except KeyboardInterrupt:
        click.echo("已停止")
