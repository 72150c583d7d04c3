"""`python app.py enterprise add|list`: the enterprises of a park deployment, each in a database of its own."""
from __future__ import annotations

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
    """List the enterprises: code, name, when added."""
    from park.enterprises import listing as rows
    found = rows()
    if not found:
        click.echo("还没有园区企业：python app.py enterprise add CODE --name NAME --database-url URL")
    for e in found:
        click.echo(f"{e.code}\t{e.name}\t{e.created_at:%Y-%m-%d %H:%M}")


def bind_for(ctx: click.Context, code: str) -> None:
    """Run the rest of the command on the enterprise's database; stop it if there is no such enterprise."""
    from park.enterprises import database_of, entered
    if database_of(code) is None:
        raise click.ClickException(f"没有编码为“{code}”的企业：python app.py enterprise list")
    ctx.meta[ENTERPRISE] = code
    ctx.with_resource(entered(code))
