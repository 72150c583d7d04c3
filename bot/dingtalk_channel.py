"""DingTalk as a Channel: interactive cards addressed by their outTrackId, robot texts and files.

A DingTalk card is updated through its outTrackId as often as needed, where WeCom hands out
single-use response codes; so this channel needs no update token.
"""
from __future__ import annotations

from cards import dingtalk as render
from cards.card import Card

from .base import PlatformError
from .channel import Limits

CARD_EXISTS = "card_exists"   # the outTrackId was delivered before: a resend after a crash
TEXT_LIMIT = 4096             # bytes of one sampleText message we allow ourselves [unverified: no documented cap]


class DingTalkChannel:
    """Deliver through the DingTalk adapter; cards are updated by task id."""

    platform = "dingtalk"
    name = "钉钉"
    single_use_updates = False

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def limits(self) -> Limits:
        return Limits(text_bytes=TEXT_LIMIT, file_bytes=self.adapter.max_file_bytes)

    @property
    def max_file_bytes(self) -> int:
        return self.adapter.max_file_bytes

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card; a DingTalk card needs no token to be updated, so return None."""
        try:
            self.adapter.send_card(user, render.render(card))
        except PlatformError as exc:
            if exc.code != CARD_EXISTS:
                raise
        return None

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Overwrite the variables of the card whose outTrackId is card.task_id."""
        self.adapter.update_card(card.task_id, render.render_update(card))

    def send_text(self, user: str, text: str) -> None:
        self.adapter.send_text(user, text)

    def send_file(self, user: str, filename: str, data: bytes) -> None:
        self.adapter.send_file(user, filename, data)

    def fetch_media(self, media_id: str) -> bytes:
        return self.adapter.fetch_media(media_id)

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        return self.adapter.oauth_url(redirect_uri, state)

    def resolve_code(self, code: str) -> str:
        return self.adapter.user_from_oauth_code(code)


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
        event_token=conf.event_token, event_aes_key=conf.event_aes_key))
