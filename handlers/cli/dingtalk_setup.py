"""`python app.py dingtalk-setup`: tell DingTalk where this app's HTTP-mode card clicks go."""
from __future__ import annotations

import logging

import click

from .common import current_settings as _settings

log = logging.getLogger(__name__)


def register_card_route() -> str | None:
    """Register PUBLIC_BASE_URL/dingtalk/card under the cards' route key; return the URL, None in Stream mode.

    Raises PlatformError when DingTalk refuses.
    """
    import settings
    from bot.registry import dingtalk_adapter
    conf = settings.current()
    if conf.dingtalk is None or conf.dingtalk.mode != "http":
        return None
    url = f"{conf.public_base_url}/dingtalk/card"
    dingtalk_adapter().register_card_callback(url)
    log.info("dingtalk card callbacks of route key %s registered to %s", dingtalk_adapter().callback_route_key, url)
    return url


@click.command("dingtalk-setup")
def dingtalk_setup():
    """Register the card callback address with DingTalk (DINGTALK_MODE=http; Stream mode needs none)."""
    from bot.base import PlatformError
    conf = _settings()
    if conf.dingtalk is None:
        raise click.ClickException("未配置钉钉：请设置 DINGTALK_APP_KEY、DINGTALK_APP_SECRET、DINGTALK_CORP_ID")
    if conf.dingtalk.mode != "http":
        click.echo("DINGTALK_MODE=stream：卡片回调经 Stream 连接送达，无需注册回调地址")
        return
    try:
        url = register_card_route()
    except PlatformError as exc:
        raise click.ClickException(f"钉钉拒绝注册卡片回调地址：{exc}") from None
    click.echo(f"已向钉钉注册卡片回调地址：{url}")
