"""Command line for Excel out: export ledger / report / audit / certificates, blank templates, weights."""
from __future__ import annotations

import shutil
from pathlib import Path

import click
from flask import current_app

from exports import period as periods, scope as scopes, weights
from exports.build import build_audit, build_certificates, build_ledger, build_report, file_name, human_size
from exports.period import PeriodError
from exports.run import Run
from exports.workbook import WorkbookError

from .progress import percent

OUT = click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="the .xlsx to write (default: its Chinese name in this folder)")


def _period(first: str | None, last: str | None, month: str | None):
    """Read --month, or --from/--to (each a day or a month); a malformed one is a usage error."""
    try:
        if month:
            return periods.month(month)
        if not first or not last:
            raise PeriodError("请给出 --month 2026-11，或 --from 2026-11-01 --to 2026-11-30")
        return periods.between(first, last)
    except PeriodError as exc:
        raise click.UsageError(str(exc)) from None


def _progress() -> Run:
    return Run.current(percent("  导出进度"))


def _done(built) -> None:
    click.echo(f"已写出 {built.path}（{human_size(built.size)}）：{built.summary}")


@click.group("export")
def export_cli() -> None:
    """Write Excel ledgers and reports (作业票台账, 月度作业许可分析, 审计记录, 持证情况统计表)."""


FROM = click.option("--from", "first", help="first day, 2026-11-01 (or a month, 2026-11)")
TO = click.option("--to", "last", help="last day, 2026-11-30 (or a month)")
MONTH = click.option("--month", help="a whole month, 2026-11")


@export_cli.command("ledger")
@FROM
@TO
@MONTH
@click.option("--type", "work_type", help="only this work type (code or name, e.g. 动火作业)")
@click.option("--unit", help="only this unit (department code or name)")
@click.option("--state", help="only this state (e.g. 已关闭)")
@OUT
def ledger(first, last, month, work_type, unit, state, out):
    """作业票台账 with 签字明细, 气体检测记录 and 报警记录 for a period."""
    period = _period(first, last, month)
    try:
        scope = scopes.Scope(period, work_type=work_type and scopes.work_type(work_type),
                             unit=unit and scopes.unit(unit), state=state and scopes.state(state))
    except PeriodError as exc:
        raise click.UsageError(str(exc)) from None
    _done(build_ledger(scope, out or Path(file_name("ledger", period.label)), _progress()))


@export_cli.command("report")
@MONTH
@click.option("--weights", "weights_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a workbook whose 权重配置 sheet gives the weights (default: the loaded ones)")
@OUT
def report(month, weights_file, out):
    """月度作业许可分析: charts, compliance, closure cycle, alarm response and the weighted score."""
    if not month:
        raise click.UsageError("请给出 --month 2026-11")
    period = _period(None, None, month)
    try:
        items = weights.read(weights_file) if weights_file else None
    except WorkbookError as exc:
        raise click.ClickException(str(exc)) from None
    _done(build_report(period, out or Path(file_name("report", period.label)), _progress(), items))


@export_cli.command("audit")
@click.option("--permit", "permit_no", help="one permit's events, e.g. DH-20261124-0001")
@FROM
@TO
@MONTH
@OUT
def audit(permit_no, first, last, month, out):
    """审计记录 of one permit or a period, each event checked, with the verification lines at the end."""
    period = None if permit_no else _period(first, last, month)
    try:
        built = build_audit(out or Path(file_name("audit", permit_no or period.label)), _progress(),
                            period=period, permit_no=permit_no)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    _done(built)
    if "未通过" in built.summary:
        raise SystemExit(1)


@export_cli.command("certificates")
@FROM
@TO
@MONTH
@OUT
def certificates(first, last, month, out):
    """持证情况统计表 (says 无数据 until certificates are registered)."""
    period = _period(first, last, month)
    _done(build_certificates(period, out or Path(file_name("certificates", period.label)), _progress()))


@click.command("template")
@click.argument("which", nargs=-1, type=click.Choice(["org", "certificates", "sensors", "weights"]))
@click.option("-o", "--out", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="the folder to write into")
def template(which, folder):
    """Write blank import workbooks (org, certificates, sensors) and the default weights; all by default."""
    from exports import templates
    run = Run.current()
    for path in templates.write_all(folder, run.heading("—"), tuple(which) or tuple(templates.FILES)):
        click.echo(f"已写出 {path}")


@click.command("load-weights")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_weights(file):
    """Check FILE's 权重配置 sheet and use its weights for every report from now on."""
    try:
        items = weights.read(file)
    except WorkbookError as exc:
        raise click.ClickException(str(exc)) from None
    target = current_app.config["SETTINGS"].instance_path / weights.FILE
    shutil.copyfile(file, target)
    groups = "，".join(f"{item.name} {item.weight:g}" for item in weights.uppers(items))
    click.echo(f"已载入评价权重（{groups}），以后的报告按此计分：{target}")


COMMANDS = (export_cli, template, load_weights)
