"""The Flask app factory and the command line: `python app.py --help`."""
from __future__ import annotations

import sys

import click
from flask import Flask, jsonify

import models
import settings


def create_app(config: dict | None = None) -> Flask:
    """Build the app on the configured database; config overrides environment variables."""
    conf = settings.configure(config)
    conf.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(conf.instance_path))
    app.config["SETTINGS"] = conf
    app.json.ensure_ascii = False   # JSON errors name the problem in Chinese a person can read in a log
    models.connect(conf.database_url)
    from bot.registry import reset as forget_channels
    forget_channels()  # adapters are built from the settings just loaded
    from certs.stats import register as count_certificates
    count_certificates()  # exports may not import certs, so the registry hands 持证情况统计表 its rows here
    from workflow.simops import matrix
    matrix()  # a malformed conflict matrix stops the app at start, naming the entry, not at a submit

    @app.before_request
    def _open_db() -> None:
        models.database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(_exc) -> None:
        if not models.database.is_closed():
            models.database.close()

    from handlers.board import bp as board
    from handlers.downloads import bp as downloads
    from handlers.muster_page import bp as muster
    from handlers.sensors import bp as sensors
    from handlers.web import bp as callbacks
    app.register_blueprint(callbacks)
    app.register_blueprint(board)
    app.register_blueprint(sensors)
    app.register_blueprint(downloads)
    app.register_blueprint(muster)

    @app.get("/healthz")
    def healthz():
        models.database.execute_sql("SELECT 1")
        return jsonify(status="ok")

    return app


SCHEMA_FREE = {"init-db", "demo", "walkthrough", "template"}


def _require_schema() -> None:
    from models.schema import current_version, discover
    version, head = current_version(), discover()[-1].version
    if version is None:
        raise click.ClickException("数据库尚未初始化，请先运行 python app.py init-db")
    if version < head:
        raise click.ClickException(f"数据库结构为第 {version} 版，需要第 {head} 版，请运行 python app.py init-db")


class AppGroup(click.Group):
    """Run each command inside a freshly built app; --help needs no database."""

    def invoke(self, ctx):
        with create_app().app_context():
            return super().invoke(ctx)


@click.group(cls=AppGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """电子作业票 (electronic work permit): manage the database, the org and permits."""
    if ctx.invoked_subcommand not in SCHEMA_FREE:
        _require_schema()


def _add_commands() -> None:
    from handlers.cli import COMMANDS
    for command in COMMANDS:
        cli.add_command(command)


_add_commands()


if __name__ == "__main__":
    sys.exit(cli())
