"""The plant-local calendar day, the unit in which certificates and authorisations run out."""
from __future__ import annotations

from datetime import date, datetime

import settings
from workflow.clock import local


def local_day(moment: datetime) -> date:
    """Return the plant-local calendar day of a UTC moment."""
    return local(moment, settings.current().plant_tz).date()
