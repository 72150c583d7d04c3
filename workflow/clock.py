"""Plant-local time for people, naive UTC for storage."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Turn a stored naive-UTC datetime into plant-local time."""
    return moment.replace(tzinfo=timezone.utc).astimezone(tz)


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """Read a plant-local time such as 2026-11-24 08:00 and return it as naive UTC."""
    cleaned = text.strip().replace("T", " ").replace("/", "-")
    try:
        moment = datetime.strptime(cleaned, "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"时间“{text}”格式不对，应为 2026-11-24 08:00") from None
    try:
        return moment.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:   # year 1 or 9999 shifted across midnight UTC
        raise ValueError(f"时间“{text}”超出可用范围") from None
