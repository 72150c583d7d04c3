"""`python app.py enterprise add|list`: the enterprises of a park deployment, each in a database of its own."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

# Where the group's --enterprise leaves the code the command runs for, once its database is bound.
ENTERPRISE = "enterprise"


@click.group("enterprise")
def enterprise():
    """Add and list the park's enterprises (园区多企业)."""


@enterprise.command("add")
@click.argument("code")
@click.option("--name", required=True, help="the enterprise's name, e.g. 甲化工有限公司")
@click.option("--database-url", required=True, help="its own database, e.g. postgresql://…/ent_a")
def add(code, name, database_url):
    """Register enterprise CODE and create or migrate its database."""
    from park.enterprises import EnterpriseError, add as register
    try:
        done = register(code, name, database_url)
    except EnterpriseError as exc:
        raise click.ClickException(str(exc)) from None
    for line in done:
        click.echo(line)
    click.echo(f"企业“{name}”（{code}）已添加。导入组织架构：python app.py --enterprise {code} load-org 文件.xlsx")


@enterprise.command("chat")
@click.argument("code")
@click.argument("variables", nargs=-1, required=True, metavar="VAR=VALUE...")
def chat(code, variables):
    """Give enterprise CODE its own WeCom corp and/or DingTalk org (WECOM_*=… DINGTALK_*=… as in .env)."""
    from park.enterprises import EnterpriseError, set_chat
    pairs = dict(v.partition("=")[::2] for v in variables)
    if any("=" not in v for v in variables):
        raise click.ClickException("每项须写成 变量=值，例如 WECOM_CORP_ID=ww0123")
    try:
        done = set_chat(code, pairs)
    except EnterpriseError as exc:
        raise click.ClickException(str(exc)) from None
    names = {"wecom": "企业微信", "dingtalk": "钉钉"}
    click.echo(f"企业 {code} 的{'、'.join(names[p] for p in done)}应用已设置；回调按企业号分到该企业，其消息经该应用发送")


@enterprise.command("list")
def listing():
    """List the enterprises: code, name, database (password masked), when added."""
    from park.enterprises import listing as rows, masked
    found = rows()
    if not found:
        click.echo("还没有园区企业：python app.py enterprise add CODE --name NAME --database-url URL")
    for e in found:
        click.echo(f"{e.code}\t{e.name}\t{masked(e.database_url)}\t{e.created_at:%Y-%m-%d %H:%M}")


def bind_for(ctx: click.Context, code: str) -> None:
    """Run the rest of the command on the enterprise's database; stop it if there is no such enterprise."""
    from park.enterprises import database_of, entered
    if database_of(code) is None:
        raise click.ClickException(f"没有编码为“{code}”的企业：python app.py enterprise list")
    ctx.meta[ENTERPRISE] = code
    ctx.with_resource(entered(code))


@enterprise.command("set-url")
@click.argument("code")
@click.option("--database-url", required=True, help="the enterprise's database, with its password")
def set_url(code, database_url):
    """Point enterprise CODE at its database again, e.g. after a restore (backups mask the passwords)."""
    from park.enterprises import EnterpriseError, masked, set_url as point
    try:
        done = point(code, database_url)
    except EnterpriseError as exc:
        raise click.ClickException(str(exc)) from None
    for line in done:
        click.echo(line)
    click.echo(f"企业 {code} 的数据库已改为 {masked(database_url.strip())}")


@click.command("park-report")
@click.option("--month", required=True, help="a whole month, 2026-11")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the .xlsx to write (default: 园区月度排名_<month>.xlsx in this folder)")
def park_report(month, out):
    """园区月度排名: every enterprise ranked by the monthly report's weighted score."""
    from exports import period as periods
    from exports.build import human_size
    from exports.period import PeriodError
    from exports.run import Run
    from park.enterprises import EnterpriseError
    from park.report import build, file_name
    from .progress import percent
    try:
        period = periods.month(month)
    except PeriodError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        built = build(period, out or Path(file_name(period)), Run.current(percent("  导出进度")))
    except EnterpriseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已写出 {built.path}（{human_size(built.size)}）：{built.summary}")


@click.command("archive")
@click.option("--enterprise", "code", required=True, metavar="CODE", help="the park enterprise to archive")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the .zip to write (default: 一企一档_<CODE>_<UTC time>.zip in this folder)")
@click.pass_context
def archive(ctx, code, out):
    """一企一档: one enterprise's org, certificates, permits, ledgers and verified audit chain as one .zip."""
    from exports.run import Run
    from park import archive as archives
    from park.enterprises import listing
    from .progress import say
    bound_code = ctx.meta.get(ENTERPRISE)
    if bound_code not in (None, code):
        raise click.UsageError(f"--enterprise 给了两个不同的企业：{bound_code} 与 {code}")
    row = next((e for e in listing() if e.code == code), None)
    if row is None:
        raise click.ClickException(f"没有编码为“{code}”的企业：python app.py enterprise list")
    if bound_code is None:
        bind_for(ctx, code)
    out = out or Path(f"一企一档_{code}_{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.zip")
    done = archives.write(out, {"code": row.code, "name": row.name}, Run.current(), say)
    click.echo(f"已写出 {done.path}：{row.name}（{code}），审计链 {done.manifest['audit']['text']}")
    if not done.verified:
        raise SystemExit(1)
