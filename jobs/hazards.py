"""Jobs of the hazard domain: answers to anonymous reporters, and the scans of findings and reports."""
from __future__ import annotations

from datetime import datetime

from models import utcnow


def tell_anonymously(platform: str, user_id: str, text: str) -> None:
    """Send text straight to the account: no outbox row, so the database never pairs it with the answer."""
    from bot.registry import channel
    channel(platform).send_text(user_id, text)


def queue_anonymous_answer(platform: str, user_id: str, text: str) -> None:
    """Enqueue tell_anonymously so that Redis forgets it once done (and soon after a failure)."""
    from rq import Retry
    from .connection import queue
    # The description is what rq logs and shows for the job: the default would spell out the arguments.
    queue("deliver").enqueue(tell_anonymously, platform, user_id, text, description="anonymous answer",
                             result_ttl=0, failure_ttl=600,
                             retry=Retry(max=3, interval=[5, 30, 120]))


def scan(now: datetime | None = None) -> dict:
    """Push and chase inspection rounds; draw the day's audits; chase overdue findings; announce reports hourly."""
    from hazards import anonymous, audits, deadlines, inspections, rectification
    now = now or utcnow()
    return {"inspections_opened": inspections.open_due(now), "inspections_reminded": inspections.remind_due(now),
            "inspections_escalated": inspections.escalate_due(now),
            "audits_drawn": audits.draw_due(now), "hazards_reminded": deadlines.remind_due(now),
            "hazards_escalated": deadlines.escalate_due(now),
            "rectifications_chased": rectification.chase_due(now), "reports_announced": anonymous.announce_due(now)}
