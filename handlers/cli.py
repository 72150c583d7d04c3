"""Command-line front end: admin commands and every permit command, acting as a named person."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

import models
from models import Person, find_person
from models.permit import Permit
from workflow import WorkflowError, engine, template as templates, work
from workflow.clock import local, parse_local
from workflow.drafts import create_permit

from .export_cli import COMMANDS as EXPORT_COMMANDS
from .show import describe, todo_lines


def _settings():
    return current_app.config["SETTINGS"]


def _person(account: str) -> Person:
    person = find_person(account)
    if person is None or not person.active:
        raise click.ClickException(f"找不到在职人员：{account}")
    return person


def _when(text: str):
    try:
        return parse_local(text, _settings().plant_tz)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _report(outcome) -> None:
    from workflow.states import LABELS
    click.echo(f"{outcome.permit_no} → {LABELS[outcome.state]}（版本 {outcome.version}）"
               + (f"  {outcome.detail}" if outcome.detail else ""))
    for note in outcome.notifications:
        click.echo(f"  通知 {Person.get_by_id(note.person_id).name} [{note.kind}] {note.text}")


class PermitGroup(click.Group):
    """Turn the engine's named refusals into a plain message and exit code 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WorkflowError as exc:
            raise click.ClickException(exc.message) from None


@click.group("permit", cls=PermitGroup)
def permit_cli() -> None:
    """Act on permits as a named person (--as ACCOUNT)."""


AS = click.option("--as", "account", required=True, help="企业微信账号、钉钉账号或手机")


@permit_cli.command("new")
@click.argument("work_type")
@AS
@click.option("--location", required=True)
@click.option("--content", required=True)
@click.option("--start", "start_text", required=True, help="2026-11-24 08:00 (plant time)")
@click.option("--end", "end_text", required=True)
@click.option("--crew", required=True, help="accounts, comma separated")
@click.option("--guardian", "guardians", required=True, help="accounts, comma separated")
@click.option("--medium", default=None)
@click.option("--set", "pairs", multiple=True, help="a type field, by label or key: 级别=一级")
def new_permit(work_type, account, location, content, start_text, end_text, crew, guardians,
               medium, pairs):
    """Create a draft permit of WORK_TYPE (code or Chinese name)."""
    t = templates.get(work_type)
    attributes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip()
        if key == "级别" and t.grading.by != "none":
            key = t.grading.attribute  # 级别 carries the grade, the height or the load, as the type needs
        field = next((f for f in t.fields if key in (f.key, f.label)), None)
        if field is None:
            raise click.ClickException(f"{t.name}没有“{key}”这一项，可填：{'、'.join(f.label for f in t.fields)}")
        attributes[field.key] = value.strip()
    permit = create_permit(
        t.code, applicant=_person(account), location=location, content=content,
        planned_start=_when(start_text), planned_end=_when(end_text), attributes=attributes,
        crew=[_person(a) for a in crew.split(",")], guardians=[_person(a) for a in guardians.split(",")],
        medium=medium)
    click.echo(f"已创建草稿 {permit.no}（{t.name}），提交：python app.py permit submit {permit.no} --as {account}")


def _simple(name: str, func, help_text: str, *, reason: bool = False):
    @click.argument("permit_no")
    @AS
    def command(permit_no, account, **kwargs):
        _report(func(permit_no, by=_person(account), **kwargs))
    command.__doc__ = help_text
    if reason:
        command = click.option("--reason", required=True)(command)
    permit_cli.command(name)(command)


_simple("submit", engine.submit, "Submit a draft for approval.")
_simple("checkin", engine.check_in, "Check in at the work site (现场签到).")
_simple("checkout", engine.check_out, "Leave the work site (离开现场); a guardian leaving suspends the work.")
_simple("start", engine.start, "Confirm the on-site start (作业开始).")
_simple("complete", engine.complete, "Confirm the work complete (完工).")
_simple("accept", engine.accept, "Accept the finished work (验收).")
_simple("close", engine.close, "Close the permit (关闭).")
_simple("resume", work.resume, "Resume suspended work (恢复作业).")
_simple("rectified", work.rectified, "Report the rectification done (整改完成).")
_simple("cancel", engine.cancel, "Cancel a permit that has not started (取消).", reason=True)
_simple("suspend", work.suspend, "Suspend running work (暂停).", reason=True)


@permit_cli.command("board")
@click.argument("permit_no")
@click.option("--qr", "qr_file", type=click.Path(dir_okay=False), default=None,
              help="save the site QR code as this PNG file")
def board(permit_no, qr_file):
    """Print the signed links of PERMIT_NO's board, site QR code and printable permit."""
    from cards import links
    from .board import qr_png
    permit = Permit.get_or_none(Permit.no == permit_no)
    if permit is None or links.opened(permit_no, {"t": links.token(permit, "view")}, ("view",)) is None:
        raise click.ClickException(f"作业票 {permit_no} 没有可用的现场公示牌（草稿、不存在或已过保留期）")
    click.echo(f"现场公示牌：{links.url(permit)}")
    click.echo(f"现场二维码内容（扫码签到）：{links.url(permit, 'site')}")
    click.echo(f"打印作业票：{links.url(permit, 'print', path='/print')}")
    if qr_file:
        Path(qr_file).write_bytes(qr_png(links.url(permit, "site")))
        click.echo(f"二维码已保存：{qr_file}")


@permit_cli.command("sign")
@click.argument("permit_no")
@click.argument("step")
@AS
@click.option("--tick", "ticks", multiple=True, help="a checklist item; 'all' ticks every item")
@click.option("--comment", default="")
def sign(permit_no, step, account, ticks, comment):
    """Sign STEP (同意 / 确认 / 提交勾选) of PERMIT_NO."""
    if list(ticks) == ["all"]:
        permit = Permit.get_or_none(Permit.no == permit_no)
        ticks = templates.get(permit.work_type).step(step).checklist if permit else ()
    _report(engine.sign(permit_no, step, by=_person(account), ticks=list(ticks), comment=comment))


@permit_cli.command("reject")
@click.argument("permit_no")
@click.argument("step")
@AS
@click.option("--reason", required=True)
@click.option("--revise", is_flag=True, help="return for revision (退回修改) instead of rejecting")
def reject(permit_no, step, account, reason, revise):
    """Reject the permit at STEP (驳回), or return it for revision with --revise."""
    command = engine.return_for_revision if revise else engine.reject
    _report(command(permit_no, step, by=_person(account), reason=reason))


@permit_cli.command("gas")
@click.argument("permit_no")
@click.argument("values")
@AS
def gas_reading(permit_no, values, account):
    """Record a gas reading: "O2=20.9 EX=0.1 H2S=0 CO=0" (EX in %LEL, H2S/CO in mg/m³)."""
    from workflow.gas import parse_values
    try:
        parsed = parse_values(values)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _report(work.record_gas(permit_no, by=_person(account), values=parsed))


@permit_cli.command("attach")
@click.argument("permit_no")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@AS
@click.option("--kind", required=True, help="what the photo shows, e.g. 灭火器")
def attach(permit_no, file, account, kind):
    """Attach a photo or file to the permit."""
    _report(work.attach(permit_no, by=_person(account), kind=kind, data=file.read_bytes(),
                        filename=file.name))


@permit_cli.command("rectify")
@click.argument("permit_no")
@AS
@click.option("--reason", required=True)
@click.option("--deadline", required=True, help="2026-11-24 18:00 (plant time)")
def rectify(permit_no, account, reason, deadline):
    """Refuse acceptance and ask for rectification by a deadline (验收不通过)."""
    _report(work.reject_acceptance(permit_no, by=_person(account), reason=reason,
                                   deadline=_when(deadline)))


@permit_cli.command("change")
@click.argument("permit_no")
@AS
@click.option("--end", "end_text", default=None, help="new planned end (延期)")
@click.option("--crew", default=None)
@click.option("--guardian", "guardians", default=None)
@click.option("--reason", required=True)
def change(permit_no, account, end_text, crew, guardians, reason):
    """Request a change of time or people; the permit is approved again."""
    changes = {}
    if end_text:
        changes["planned_end"] = _when(end_text)
    if crew:
        changes["crew"] = [_person(a) for a in crew.split(",")]
    if guardians:
        changes["guardians"] = [_person(a) for a in guardians.split(",")]
    _report(work.request_change(permit_no, by=_person(account), changes=changes, reason=reason))


@permit_cli.command("expire-due")
def expire_due():
    """Expire every permit past its validity."""
    for outcome in work.expire_due():
        _report(outcome)


@permit_cli.command("show")
@click.argument("permit_no")
def show(permit_no):
    """Show a permit's content, steps, signatures and gas readings."""
    permit = Permit.get_or_none(Permit.no == permit_no)
    if permit is None:
        raise click.ClickException(f"没有编号为 {permit_no} 的作业票")
    click.echo(describe(permit, _settings().plant_tz))


@permit_cli.command("todo")
@AS
def todo(account):
    """List what waits for a person, oldest first."""
    for line in todo_lines(_person(account), _settings().plant_tz) or ["没有待办"]:
        click.echo(line)


@click.command("init-db")
def init_db():
    """Create or upgrade the database schema."""
    from models.schema import upgrade
    for line in upgrade():
        click.echo(line)


def _import_workbook(load, report, file: Path) -> None:
    """Print report(load(file)), or the workbook's errors with exit code 1 and nothing written."""
    from exports.workbook import WorkbookError
    try:
        click.echo(report(load(file)))
    except WorkbookError as exc:
        raise click.ClickException(str(exc)) from None


WORKBOOK = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.command("load-org")
@WORKBOOK
@click.option("--photos", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="folder of the face photos named in the 人员 sheet's 照片 column (default: the workbook's)")
def load_org_command(file, photos):
    """Import departments and people from the org workbook (部门 / 人员, optional 证书 / 承包商 sheets)."""
    from functools import partial
    from exports.org_import import format_report, load_org
    _import_workbook(partial(load_org, photos=photos), format_report, file)


@click.command("load-sensors")
@WORKBOOK
def load_sensors_command(file):
    """Register or update gas detectors from the detector workbook (检测仪 sheet)."""
    from exports.sensor_import import format_report, load_sensors
    _import_workbook(load_sensors, format_report, file)


@click.command("sensor-rekey")
@click.argument("code")
def sensor_rekey(code):
    """Give detector CODE a new secret and print it once; the old secret stops working."""
    from exports.sensor_import import UnknownSensor, rekey_sensor
    try:
        secret = rekey_sensor(code)
    except UnknownSensor as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{code.strip()}  secret={secret}")
    click.echo("新密钥仅此一次显示，请立即配置到检测仪上；旧密钥已失效。")


@click.command("enrol-face")
@click.argument("account")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def enrol_face(account, photo):
    """Enrol ACCOUNT's reference face from PHOTO (one face, front on) for face-checked signatures."""
    from faces.enrol import enrol
    from faces.match import FaceRefused
    person = _person(account)
    try:
        enrol(person, photo.read_bytes(), source="cli")
    except FaceRefused as exc:
        raise click.ClickException(f"未采集：{exc.reason}") from None
    click.echo(f"已采集 {person.name} 的人脸")


@click.command("verify-audit")
def verify_audit():
    """Check the audit chain; print OK or name the first broken event."""
    from workflow.audit import verify
    report = verify()
    click.echo(report.text())
    if not report.ok:
        raise SystemExit(1)


@click.command("walkthrough")
def walkthrough():
    """Load the sample plant and take one permit of each type through the engine to close."""
    from exports.org_import import format_report, load_org
    from models.schema import upgrade
    from workflow.audit import verify
    from workflow.walkthrough import next_working_morning, run_to_close
    from .demo import SAMPLE
    for line in upgrade():
        click.echo(line)
    click.echo(format_report(load_org(SAMPLE)))
    start = next_working_morning(_settings())
    click.echo(f"模拟时钟：作业计划开始 {local(start, _settings().plant_tz):%Y-%m-%d %H:%M}")
    for code in templates.registry():
        run_to_close(code, start=start, say=click.echo)
    click.echo(verify().text())


@click.command("demo")
@click.option("--scripted", is_flag=True, help="click a 一级 hot-work permit through, then exit")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk", "mixed"]), default="wecom",
              help="where people's cards go: WeCom, DingTalk, or alternating people between the two")
@click.option("--port", default=5000, type=int)
@click.option("--sandbox-port", default=5001, type=int, help="the WeCom sandbox; DingTalk's is the next port")
def demo(scripted, platform, port, sandbox_port):
    """Run the app, a worker and both platform sandboxes; open a phone view to act as anyone."""
    import time
    from workflow.audit import verify
    from .demo import running, scripted as run_script
    from .demo import SCRIPTED_TIMERS
    timers = SCRIPTED_TIMERS if scripted else None
    if scripted:
        port, sandbox_port = 0, 0
    with running(port=port, sandbox_port=sandbox_port, timers=timers, platform=platform) as world:
        if scripted:
            permit = run_script(world, click.echo, platform)
            click.echo(f"{permit.no} → 已关闭")
            report = verify()
            click.echo(report.text())
            if not report.ok:
                raise SystemExit(1)
            return
        click.echo(f"应用：{world.app}    企业微信沙箱：{world.wecom}    钉钉沙箱：{world.dingtalk}")
        click.echo(f"手机视图（可扮演任何人）：企业微信 {world.wecom}/phone    钉钉 {world.dingtalk}/phone")
        click.echo("每人在两个应用都有账号：卡片发到其最近使用的应用（起初为企业微信）。"
                   "例如打开 朱岩 的手机视图发送“帮助”；按 Ctrl-C 停止")
        click.echo("现场签到：申请提交后的回复里有“现场二维码”，打开后复制二维码下方的网址，"
                   "在审批人手机视图点“扫一扫”粘贴打开")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("已停止")


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
    if dev:
        from werkzeug.serving import run_simple
        run_simple(host, port, current_app._get_current_object(), threaded=True)
        return
    from .serving import serve as run_gunicorn
    run_gunicorn(host=host, port=port, workers=workers, threads=threads, timeout=timeout)


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
    from handlers.web import handle_stream_event
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


COMMANDS = (init_db, load_org_command, load_sensors_command, sensor_rekey, enrol_face, verify_audit, walkthrough,
            demo, permit_cli, serve, worker, scheduler, dingtalk_stream, *EXPORT_COMMANDS)
