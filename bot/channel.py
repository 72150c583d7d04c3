"""The one interface every chat channel implements, so delivery never asks which platform it talks to."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cards.card import Card

from .base import PlatformError


@dataclass(frozen=True)
class Limits:
    """What one message may carry on a channel, in bytes as the platform counts them."""
    text_bytes: int
    file_bytes: int


@runtime_checkable
class Channel(Protocol):
    """Send and update cards, texts and files to one person's account; fetch media; prove who opened a page.

    A card's update token is what send_card returned (or what a click handed over). Where updates
    are single-use, update_card spends it and a card with no token left cannot be changed again;
    elsewhere the card is addressed by its task id and the token may be None.
    """

    platform: str              # the name cards and preferences are recorded under
    name: str                  # what users call the app, in plain Chinese
    limits: Limits
    single_use_updates: bool   # True: each update needs a fresh token from a send or a click

    def send_card(self, user: str, card: Card) -> str | None:
        """Send card; return its update token, None when the card already reached the person before."""

    def update_card(self, user: str, card: Card, *, token: str | None) -> None:
        """Replace the card with task id card.task_id that user holds."""

    def send_text(self, user: str, text: str) -> None:
        """Send a text message of at most limits.text_bytes."""

    def send_file(self, user: str, filename: str, data: bytes) -> None:
        """Send a file of at most limits.file_bytes."""

    def fetch_media(self, media_id: str) -> bytes:
        """Download what a person sent in chat (a photo)."""

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Return the link that brings a page opened in the app back with a code naming the person."""

    def resolve_code(self, code: str) -> str:
        """Return the account id that an OAuth code names; refuse a bad code with PlatformError."""


def rendered(render, card: Card):
    """Return render(card); a card the platform cannot show is a final refusal, not a retry."""
    try:
        return render(card)
    except ValueError as exc:
        raise PlatformError("card_unrenderable", f"{card.task_id}: {exc}", retryable=False) from exc


class AdapterChannel:
    """What a channel passes straight to its platform adapter; subclasses add cards and the text limit."""

    text_bytes: int

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def limits(self) -> Limits:
        return Limits(text_bytes=self.text_bytes, file_bytes=self.adapter.max_file_bytes)

    @property
    def max_file_bytes(self) -> int:
        return self.adapter.max_file_bytes

    def send_text(self, user: str, text: str) -> None:
        """Send a text message of at most limits.text_bytes."""
        self.adapter.send_text(user, text)

    def send_file(self, user: str, filename: str, data: bytes) -> None:
        """Send a file of at most limits.file_bytes."""
        self.adapter.send_file(user, filename, data)

    def fetch_media(self, media_id: str) -> bytes:
        """Download what a person sent in chat (a photo)."""
        return self.adapter.fetch_media(media_id)

    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Return the link that brings a page opened in the app back with a code naming the person."""
        return self.adapter.oauth_url(redirect_uri, state)

    def resolve_code(self, code: str) -> str:
        """Return the account id that an OAuth code names."""
        return self.adapter.user_from_oauth_code(code)
