"""The demo commands: the sample plant walked through in-process, or the whole product on this machine."""
from __future__ import annotations

from pathlib import Path

import click

from workflow import template as templates
from workflow.clock import local

from .common import app_factory, current_settings as _settings


@click.command("walkthrough")
def walkthrough():
    """Load the sample plant and take one permit of each type through the engine to close."""
    from exports.org_import import format_report, load_org
    from models.schema import upgrade
    from workflow.audit import verify
    from workflow.walkthrough import next_working_morning, run_to_close
    from handlers.demo.demo import SAMPLE
    for line in upgrade():
        click.echo(line)
    click.echo(format_report(load_org(SAMPLE)))
    start = next_working_morning(_settings())
    click.echo(f"模拟时钟：作业计划开始 {local(start, _settings().plant_tz):%Y-%m-%d %H:%M}")
    for code in templates.registry():
        run_to_close(code, start=start, say=click.echo)
    click.echo(verify().text())


@click.command("demo")
@click.option("--scripted", is_flag=True, help="tell a story through the sandbox (see --story), then exit")
@click.option("--story", type=click.Choice(["permit", "gas", "plant", "names", "inspection", "readiness"]), default="permit",
              help="with --scripted: permit (a 一级 hot-work permit to close), gas (a controller of 100 detectors), "
                   "plant (overlapping permits, a shared isolation, a handover and an emergency drill), "
                   "names (the crew named by name, two of one name told apart by a click), "
                   "inspection (a hazard rectified and re-checked, a random audit, an anonymous report), "
                   "readiness (a quiz passed, an expired detector refused, a start held for the crew's 班前会)")
@click.option("--platform", type=click.Choice(["wecom", "dingtalk", "mixed"]), default="wecom",
              help="where people's cards go: WeCom, DingTalk, or alternating people between the two")
@click.option("--instance", "instance", type=click.Path(file_okay=False),
              help="with --scripted: keep the story's database and Redis here (default: INSTANCE_PATH, else a fresh "
                   "temporary folder, so the interactive demo's data is left alone)")
@click.option("--port", default=5000, type=int)
@click.option("--sandbox-port", default=5001, type=int, help="the WeCom sandbox; DingTalk's is the next port")
@click.option("--reset", is_flag=True, help="start the interactive demo over: forget its database and Redis data")
def demo(scripted, story, platform, instance, port, sandbox_port, reset):
    """Run the app, a worker and both platform sandboxes; open a phone view to act as anyone."""
    import signal
    import time
    from workflow.audit import verify
    from handlers.demo.demo import running
    from handlers.demo.stories import SHORT_LIMITS, STORIES, STORY_SETTINGS, StoryFailed
    from handlers.demo.demo import SCRIPTED_TIMERS, STORY_TIMERS
    timers = (SCRIPTED_TIMERS if story in SHORT_LIMITS else STORY_TIMERS) if scripted else None
    if scripted:
        timers = {**timers, **STORY_SETTINGS.get(story, {})}
    if scripted:
        port, sandbox_port = 0, 0
        _own_instance(instance)
    elif reset:
        _start_over()
    # SIGTERM takes Ctrl-C's way out, through every stop below; SIGINT is set explicitly because a
    # shell starting the demo in the background hands it SIGINT ignored.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with running(app_factory(), port=port, sandbox_port=sandbox_port, timers=timers, platform=platform,
                     fresh_choices=scripted) as world:
            if scripted:
                try:
                    STORIES[story](world, click.echo, platform)
                except StoryFailed as exc:
                    click.echo(f"未完成：{exc}")
                    raise SystemExit(1)
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
            click.echo("示例区域设有电子围栏：桌面浏览器签到时位置取自浏览器本身，须在现场半径内（如 3#罐区 "
                       "30.2734, 120.1566，60 米），可在浏览器开发者工具的“传感器（Sensors）”中设定位置")
            click.echo("数据保留在实例目录中，下次启动接着用；python app.py demo --reset 从头开始")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("已停止：应用、工作进程、调度器、嵌入式 Redis 和两个沙箱均已退出")
        if scripted:
            raise SystemExit(130)   # a story cut short did not pass


def _start_over() -> None:
    """Forget the interactive demo's data: its SQLite file and its Redis's, in the instance folder alone."""
    conf = _settings()
    database = conf.database_url.removeprefix("sqlite:///")
    folder = conf.instance_path.resolve()
    if database == conf.database_url or folder not in Path(database).resolve().parents:
        raise click.ClickException(f"--reset 只清除实例目录 {folder} 中的 SQLite 数据库；"
                                   "DATABASE_URL 指向其他数据库，请自行处理")
    from models import database as handle
    handle.close()
    # The audit checkpoints describe the old chain: kept, they would call the new one tampered with.
    for path in (*folder.glob(f"{Path(database).name}*"), *folder.glob("redis.db*"),
                 folder / "audit_checkpoints.jsonl"):
        path.unlink(missing_ok=True)
    click.echo(f"已清除演示数据：{Path(database).name}、嵌入式 Redis 数据")


def _own_instance(folder: str | None) -> None:
    """Give a scripted story an instance of its own, so one run's people and choices never leak into the next."""
    import atexit
    import os
    import shutil
    import tempfile
    folder = folder or os.environ.get("INSTANCE_PATH")
    if folder is None:
        folder = tempfile.mkdtemp(prefix="permit-story-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["INSTANCE_PATH"] = str(Path(folder).resolve())
