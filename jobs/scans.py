"""The periodic scans the scheduler enqueues: each an indexed query for what is due, nothing more."""
from __future__ import annotations

import logging
from datetime import datetime

from models import utcnow

log = logging.getLogger(__name__)


def run_all(now_iso: str | None = None) -> dict:
    """Run every frequent scan once; return how many items each acted on.

    Each item is acted on in its own transaction and marked done in it, so a scan killed half-way
    leaves the rest due for the next one, and nothing is done twice.
    """
    from emergency import muster
    from sensors import alarms
    from workflow import deadlines, work
    from .delivery import sweep
    from .webhooks import enqueue_due as webhooks_due
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    counts = {
        "reminded": len(deadlines.remind_due(now)),
        "escalated": len(deadlines.escalate_due(now)),
        "retest_reminded": len(deadlines.retest_due(now)),
        "expired": len(work.expire_due(now)),
        **running_rules(now.isoformat()),
        "sensors_offline": alarms.offline_due(now),
        "alarms_resent": alarms.resend_due(now),
        "musters_late": muster.late_due(now),
    }
    from .hazards import scan as hazard_scan
    counts |= hazard_scan(now)
    from tools import reminders as tools
    counts |= {"tools_warned": tools.warn_due(now), "tools_chased": tools.chase_due(now)}
    counts["swept"] = sweep()
    counts["webhooks"] = webhooks_due(now)
    from handlers.chat.inbox import sweep as sweep_inbox
    counts["inbox_swept"] = sweep_inbox()
    if any(counts.values()):
        log.info("scan at %s: %s", now.isoformat(), counts)
    return counts


def running_rules(now_iso: str | None = None) -> dict:
    """Apply the rules of work left running: nightfall, the reading interval, the daily re-test."""
    from workflow import running
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    return {"nightfall": len(running.nightfall_due(now)), "day_holds": len(running.day_holds_due(now)),
            "readings": len(running.readings_due(now))}


def certificate_scan(now_iso: str | None = None) -> int:
    """Warn holders of certificates and contractors' authorisations that end soon; return how many."""
    from workflow import hooks
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    return len(hooks.problems("certificate_expiry", None, at=now))
