"""WeCom as a Channel: template cards, updated once per single-use response code."""
from __future__ import annotations

from cards import wecom as render
from cards.card import Card

from .base import PlatformError
from .channel import Limits

TASK_ID_TAKEN = 42014  # WeCom: this task_id was used before, so this card was already delivered
TEXT_LIMIT = 2048      # WeCom: bytes in one text message


class WeComChannel:
    """Deliver through the WeCom adapter; each card update spends a response code."""

    platform = "wecom"
    name = "企业微信"
    single_use_updates = True

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def limits(self) -> Limits:
        return Limits(text_bytes=TEXT_LIMIT, file_bytes=self.adapter.max_file_bytes)

    @property
    def max_file_bytes(self) -> int:
        return self.adapter.max_file_bytes

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card; return its response code, None when WeCom says it was delivered before."""
        try:
            return self.adapter.send_card(user, render.render(card)).get("response_code") or None
        except PlatformError as exc:
            if exc.code != TASK_ID_TAKEN:
                raise
            return None

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Replace the card that token (a response code from the send or a click) identifies."""
        if not token:
            raise PlatformError("no_response_code", f"card {card.task_id} has no response code left",
                                retryable=False)
        self.adapter.update_card([user], token, card=render.render_update(card)["template_card"])

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


def build() -> WeComChannel:
    """Build the channel from the settings."""
    import settings
    from jobs.connection import redis
    from .wecom import WeComAdapter
    conf = settings.current().wecom
    return WeComChannel(WeComAdapter(corp_id=conf.corp_id, agent_id=conf.agent_id, secret=conf.secret,
                                     token=conf.token, aes_key=conf.aes_key, api_base=conf.api_base,
                                     oauth_base=conf.oauth_base, redis=redis()))
