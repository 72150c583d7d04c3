"""DingTalk as a Channel: interactive cards addressed by their outTrackId, robot texts and files.

A DingTalk card is updated through its outTrackId as often as needed, where WeCom hands out
single-use response codes; so this channel needs no update token.
"""
from __future__ import annotations

from cards import dingtalk as render
from cards.card import Card

from .base import PlatformError
from .channel import AdapterChannel, rendered

CARD_EXISTS = "card_exists"   # the outTrackId was delivered before: a resend after a crash
TEXT_LIMIT = 4096             # bytes of one sampleText message we allow ourselves [unverified: no documented cap]


class DingTalkChannel(AdapterChannel):
    """Deliver through the DingTalk adapter; cards are updated by task id."""

    platform = "dingtalk"
    name = "钉钉"
    single_use_updates = False
    text_bytes = TEXT_LIMIT

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card; a DingTalk card needs no token to be updated, so return None."""
        try:
            self.adapter.send_card(user, rendered(render.render, card))
        except PlatformError as exc:
            if exc.code != CARD_EXISTS:
                raise
        return None

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Overwrite the variables of the card whose outTrackId is card.task_id."""
        self.adapter.update_card(card.task_id, rendered(render.render_update, card))


def build() -> DingTalkChannel:
    """Build the channel from the settings."""
    import settings
    from jobs.connection import redis
    from .dingtalk import DingTalkAdapter
    conf = settings.current().dingtalk
    return DingTalkChannel(DingTalkAdapter(
        app_key=conf.app_key, app_secret=conf.app_secret, corp_id=conf.corp_id, robot_code=conf.robot_code,
        card_template_id=conf.card_template_id, redis=redis(), api_base=conf.api_base, oapi_base=conf.oapi_base,
        login_base=conf.login_base, callback_type="HTTP" if conf.mode == "http" else "STREAM",
        callback_route_key="permit" if conf.mode == "http" else "",
        event_token=conf.event_token, event_aes_key=conf.event_aes_key, replay_window=conf.callback_window,
        agent_id=conf.agent_id, jssdk_url=conf.jssdk_url))
