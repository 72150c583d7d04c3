"""Handle events kept in the inbox (stored before their Stream frame was acknowledged)."""
from __future__ import annotations


def handle_kept(row_id: int) -> str:
    """Handle one kept event once; return what happened."""
    from handlers.chat.inbox import handle
    return handle(row_id)


def sweep_inbox() -> int:
    """Enqueue kept events whose handling was lost; return how many."""
    from handlers.chat.inbox import sweep
    return sweep()
