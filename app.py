"""The composition root: builds the Flask app, wires the engine's gates and the command line.

`python app.py --help` lists the commands; gunicorn serves `app:create_app()`. Nothing in the product
imports this module: every part receives what it needs from here.
"""
from __future__ import annotations

import sys

import click
from flask import Flask, request

import models
import settings
from bot.registry import reset as forget_channels
from certs.check import permit_problems
from certs.expiry import warn_expiring
from certs.stats import register as count_certificates
from faces.gate import problems as face_problems
from emergency.stop import resume_problems
from handlers.cli import COMMANDS
from hazards.deadlines import hold_problems as hazard_hold
from handlers.cli.common import APP_FACTORY
from handlers.cli.enterprises import bind_for
from handlers.api import register as open_api
from handlers.cli.progress import FORCED as PROGRESS
from handlers.web.area_board import bp as area_board
from handlers.web.board import bp as board
from handlers.web.busy import register as answer_busy
from handlers.web.callbacks import bp as callbacks
from handlers.web.downloads import bp as downloads
from handlers.web.health import bp as health
from handlers.web.limits import register as limit_bodies
from handlers.web.meeting import bp as meeting
from handlers.web.muster import bp as muster
from handlers.web.selfie import bp as selfie
from handlers.web.sensors import bp as sensors
from handlers.web.tools import bp as tools
from meetings.preshift import problems as meeting_problems
from isolation.gate import release_problems as isolation_release, start_problems as isolation_start
from sensors.alarms import manual_reading
from sensors.watch import monitoring_problems
from tools.loans import problems as tool_problems
from workflow import hooks
from workflow.simops import matrix as conflict_matrix


def wire_gates() -> None:
    """Register the checks the product ships with on the engine's gates."""
    hooks.register("certificates", permit_problems)
    hooks.register("certificate_expiry", warn_expiring)
    hooks.register("monitoring", monitoring_problems)
    hooks.register("gas_reading", manual_reading)
    hooks.register("face_check", face_problems)
    hooks.register("isolation", isolation_start)
    hooks.register("isolation_release", isolation_release)
    hooks.register("resume", resume_problems)
    hooks.register("hazard_hold", hazard_hold)
    hooks.register("tools", tool_problems)
    hooks.register("meeting", meeting_problems)


def create_app(config: dict | None = None) -> Flask:
    """Build the app on the configured database; config overrides environment variables."""
    conf = settings.configure(config)
    conf.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(conf.instance_path))
    app.config["SETTINGS"] = conf
    app.json.ensure_ascii = False   # JSON errors name the problem in Chinese a person can read in a log
    models.connect(conf.database_url, pool_size=conf.db_pool_size, wait=conf.db_pool_wait)
    forget_channels()  # adapters are built from the settings just loaded
    count_certificates()  # exports may not import certs, so the registry hands 持证情况统计表 its rows here
    wire_gates()   # every process that runs the engine (web, worker, scheduler, CLI) passes here
    conflict_matrix()  # a malformed conflict matrix stops the app at start, naming the entry, not at a submit

    @app.before_request
    def _open_db() -> None:
        # /healthz must answer while the pool is full or the database is down: it says the process lives.
        if request.endpoint != "health.healthz":
            models.database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(_exc) -> None:
        if not models.database.is_closed():
            models.database.close()

    answer_busy(app)   # a full pool or a locked database is a 503 with Retry-After, never a 500
    limit_bodies(app, limit=conf.max_content_length)
    app.register_blueprint(callbacks)
    app.register_blueprint(board)
    app.register_blueprint(sensors)
    app.register_blueprint(downloads)
    app.register_blueprint(muster)
    app.register_blueprint(health)
    app.register_blueprint(area_board)
    app.register_blueprint(tools)
    app.register_blueprint(selfie)
    app.register_blueprint(meeting)
    open_api(app)

    return app


SCHEMA_FREE = {"init-db", "demo", "walkthrough", "template", "states", "restore"}


def _require_schema() -> None:
    from models.schema import current_version, discover
    version, head = current_version(), discover()[-1].version
    if version is None:
        raise click.ClickException("数据库尚未初始化，请先运行 python app.py init-db")
    if version < head:
        raise click.ClickException(f"数据库结构为第 {version} 版，需要第 {head} 版，请运行 python app.py init-db")


HELP_ONLY = "help_only"


class AppGroup(click.Group):
    """Run each command inside a freshly built app; --help needs no database."""

    def parse_args(self, ctx, args):
        if args[:1] == ["demo"]:
            # The demo's robot is the sandbox's: its stand-in credentials must be there before any app is built.
            from handlers.demo.demo import robot_stand_in
            robot_stand_in()
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        ctx.meta[APP_FACTORY] = create_app   # the demo builds its own app once its sandboxes are up
        # The group's callback runs before a subcommand reads its own --help: it must know beforehand,
        # or `permit new --help` would ask for a database that a person reading help may not have yet.
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        ctx.meta[HELP_ONLY] = any(a in ctx.help_option_names for a in args)
        with create_app().app_context():
            return super().invoke(ctx)


@click.group(cls=AppGroup, commands=COMMANDS)
@click.option("--progress", is_flag=True, help="show long commands' progress on stderr even when it is not a terminal")
@click.option("--enterprise", metavar="CODE", help="run the command on a park enterprise's own database")
@click.pass_context
def cli(ctx: click.Context, progress: bool, enterprise: str | None) -> None:
    """电子作业票 (electronic work permit): manage the database, the org and permits."""
    ctx.meta[PROGRESS] = progress
    if enterprise and not ctx.meta.get(HELP_ONLY):
        bind_for(ctx, enterprise)
    if ctx.invoked_subcommand not in SCHEMA_FREE and not ctx.meta.get(HELP_ONLY):
        _require_schema()


if __name__ == "__main__":
    sys.exit(cli())
