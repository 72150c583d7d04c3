"""`python app.py api-token create|list|revoke`: the tokens of the open API."""
from __future__ import annotations

import click


@click.group("api-token")
def api_token():
    """Create, list and revoke tokens of the open API (/api/v1)."""


@api_token.command("create")
@click.option("--name", required=True, help="who uses it, e.g. ERP; writes are audited under this name")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True)
def create(name, scope):
    """Create a token and print it once: only its hash is stored."""
    from handlers.api.tokens import TokenError, create as make
    try:
        raw = make(name, scope)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"令牌“{name}”（{scope}）已创建，只显示这一次，请妥善保存：")
    click.echo(raw)


@api_token.command("list")
def listing():
    """List tokens: name, scope, prefix, last use, revoked."""
    from handlers.api.tokens import listing as tokens
    rows = tokens()
    if not rows:
        click.echo("还没有令牌：python app.py api-token create --name NAME --scope read|write")
    for t in rows:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "从未使用"
        state = f"已吊销 {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "有效"
        click.echo(f"{t.name}\t{t.scope}\t{t.prefix}…\t最近使用 {used}\t{state}")


@api_token.command("revoke")
@click.argument("name")
def revoke(name):
    """Revoke the token called NAME; its next request is refused with 401."""
    from handlers.api.tokens import TokenError, revoke as cancel
    try:
        cancel(name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"令牌“{name}”已吊销")
