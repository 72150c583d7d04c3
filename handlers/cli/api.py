"""`python app.py api-token create|list|revoke`: the tokens of the open API."""
from __future__ import annotations

import click


@click.group("api-token")
def api_token():
    """Create, list and revoke tokens of the open API (/api/v1)."""


@api_token.command("create")
@click.option("--name", required=True, help="who uses it, e.g. ERP; writes are audited under this name")
@click.option("--scope", type=click.Choice(["read", "write", "park"]), default="read", show_default=True,
              help="park: the park safety office's read-only view across every enterprise")
@click.pass_context
def create(ctx, name, scope):
    """Create a token and print it once: only its hash is stored (with --enterprise: that enterprise's)."""
    from handlers.api.tokens import TokenError, create as make
    from .enterprises import ENTERPRISE
    try:
        raw = make(name, scope, enterprise=ctx.meta.get(ENTERPRISE))
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
        click.echo("还没有令牌：python app.py api-token create --name NAME --scope read|write|park")
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


@click.group("webhook")
def webhook():
    """Subscribe an integration's URL to events (permit state, alarms, emergencies), list, remove."""


@webhook.command("add")
@click.option("--name", required=True)
@click.option("--url", required=True, help="where the signed POSTs go")
@click.option("--events", required=True, help="comma-separated, e.g. permit.state_changed,alarm.raised")
def add(name, url, events):
    """Subscribe URL to EVENTS from now on and print the signing secret once."""
    from jobs.webhooks import WebhookError, subscribe
    try:
        secret = subscribe(name, url, [e.strip() for e in events.split(",") if e.strip()])
    except WebhookError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"订阅“{name}”已添加。签名密钥只显示这一次（X-Signature = HMAC-SHA256(密钥, 时间戳.正文)）：")
    click.echo(secret)


@webhook.command("list")
def hooks():
    """List subscriptions with their last delivery status."""
    from models.api import Webhook
    rows = list(Webhook.select().where(Webhook.removed_at.is_null()).order_by(Webhook.id))
    if not rows:
        click.echo("还没有订阅：python app.py webhook add --name NAME --url URL --events EVENTS")
    for h in rows:
        last = (f"最近一次 {h.last_attempt_at:%Y-%m-%d %H:%M:%S} "
                f"{'成功' if not h.last_error else '失败：' + h.last_error}") if h.last_attempt_at else "尚未投递"
        click.echo(f"{h.name}\t{h.url}\t{','.join(h.events)}\t已投递 {h.delivered}\t游标 {h.cursor}\t{last}")


@webhook.command("remove")
@click.argument("name")
def unsubscribe(name):
    """Stop delivering to the subscription called NAME."""
    from jobs.webhooks import WebhookError, remove
    try:
        remove(name)
    except WebhookError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"订阅“{name}”已移除")
