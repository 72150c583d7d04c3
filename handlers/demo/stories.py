"""The scripted stories `python app.py demo --scripted --story NAME` can tell, each a day through the sandbox."""
from __future__ import annotations

from typing import Callable

from models.permit import Permit
from workflow.states import CLOSED

from .demo import Demo, scripted
from .gas_story import StoryFailed, expect, gas
from .inspection_story import inspection
from .names_story import names
from .plant_story import plant
from .readiness_story import readiness


def permit(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """Apply for a 一级 hot-work permit in chat and click it through every step to close."""
    closed = scripted(demo, say, platform)
    expect(Permit.get_by_id(closed.id).state == CLOSED, f"{closed.no} 没有关闭")
    say(f"{closed.no} → 已关闭")


STORIES: dict[str, Callable[..., None]] = {"permit": permit, "gas": gas, "plant": plant, "names": names,
                                           "inspection": inspection, "readiness": readiness}
# The permit story shortens every time limit so that one step is seen to escalate; the others keep the
# template's limits, so nobody's card is taken away mid-story.
SHORT_LIMITS = {"permit"}
# Settings a story runs under besides the timers: every permit in progress is drawn for the audit.
# The readiness story: a permit's start waits for its crew's pre-shift meeting.
STORY_SETTINGS = {"inspection": {"AUDIT_SHARE": "1"}, "readiness": {"MEETING_BEFORE_START": "1"}}

__all__ = ["SHORT_LIMITS", "STORIES", "STORY_SETTINGS", "StoryFailed"]
