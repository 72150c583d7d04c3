"""WeCom as a Channel: template cards, updated once per single-use response code."""
from __future__ import annotations

import hashlib
from dataclasses import replace

from cards import wecom as render
from cards.card import Card

from .base import PlatformError
from .channel import AdapterChannel, rendered

TASK_ID_TAKEN = 42014  # WeCom: this task_id was used before, so this card was already delivered
TEXT_LIMIT = 2048      # WeCom: bytes in one text message
# The code was spent: by our own earlier update (the adapter knows) or, as WeCom says, used or expired.
SPENT = ("response_code_used", 42022)


class WeComChannel(AdapterChannel):
    """Deliver through the WeCom adapter; each card update spends a response code."""

    platform = "wecom"
    name = "企业微信"
    single_use_updates = True
    text_bytes = TEXT_LIMIT

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card; return its response code, None when WeCom says it was delivered before."""
        try:
            return self.adapter.send_card(user, rendered(render.render, card)).get("response_code") or None
        except PlatformError as exc:
            if exc.code != TASK_ID_TAKEN:
                raise
            return None

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Replace the card that token (a response code from the send or a click) identifies."""
        if not token:
            raise PlatformError("no_response_code", f"card {card.task_id} has no response code left",
                                retryable=False)
        try:
            if not card.url and not card.buttons:
                # A WeCom notice must link somewhere; a card with nowhere to go keeps its body and shows
                # how it ended on its button instead.
                self.adapter.update_card([user], token, replace_name=card.title)
                return
            self.adapter.update_card([user], token, card=rendered(render.render_update, card)["template_card"])
        except PlatformError as exc:
            if exc.code not in SPENT:
                raise
            self._send_instead(user, card, token)

    def _send_instead(self, user: str, card: Card, token: str) -> None:
        """Send the update as a card of its own: its code was spent on something else, or expired.

        WeCom answers 42022 alike for a code used and a code older than 72 h; a resend of an update
        whose answer was lost on the way gets it too, so the person may see the outcome twice, which
        beats not seeing it. The task id comes from the code, so a resend of this fallback is one card.
        """
        if not card.url:
            # A notice must link somewhere (see update_card); its words go as text instead.
            self.send_text(user, "\n".join(filter(None, (card.title, card.notice))))
            return
        suffix = hashlib.sha1(token.encode()).hexdigest()[:6]
        self.send_card(user, replace(card, task_id=f"{card.task_id[:120]}-u{suffix}"))


def build() -> WeComChannel:
    """Build the channel from the settings."""
    import settings
    from jobs.connection import redis
    from .wecom import WeComAdapter
    conf = settings.current().wecom
    return WeComChannel(WeComAdapter(corp_id=conf.corp_id, agent_id=conf.agent_id, secret=conf.secret,
                                     token=conf.token, aes_key=conf.aes_key, api_base=conf.api_base,
                                     oauth_base=conf.oauth_base, jssdk_url=conf.jssdk_url,
                                     redis=redis()))
