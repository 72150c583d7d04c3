"""The long connection's door: events read off WeCom's robot socket, checked and handed to dispatch."""
from __future__ import annotations

import logging

import models
from bot.base import Event
from jobs.connection import redis
from jobs.delivery import enqueue
from models import CardRecord

from .dispatch import dispatch

log = logging.getLogger(__name__)


def handle_ws_event(event: Event) -> str:
    """Handle one event from the socket once its effects are committed; return what happened.

    Runs in a thread of the connection, outside any request, so it opens its own database connection.
    """
    with models.database.connection_context():
        if event.kind == "click" and not _card_we_sent(event):
            # A click names its card by task id; one we never sent is forged or from another app.
            log.warning("wecom-ws click from %s on card %r that we never sent: refused", event.user_id,
                        event.task_id[:80])
            return "refused: unknown card"
        return dispatch(event, redis=redis(), enqueue=enqueue)


def _card_we_sent(event: Event) -> bool:
    return CardRecord.select().where((CardRecord.task_id == event.task_id)
                                     & (CardRecord.platform == event.platform)).exists()
