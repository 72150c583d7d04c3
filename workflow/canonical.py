"""The one JSON form that audited content is hashed in, before and after it is stored."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def canonical(value: Any) -> str:
    """Return value as canonical JSON text: sorted keys, no spaces, no NaN."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def plain(value: Any) -> Any:
    """Return value as it will read back from a JSON column, so it hashes the same before and after."""
    try:
        return json.loads(canonical(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"audit data must be plain JSON (pass datetimes as strings): {exc}") from None


def whole_seconds(at: datetime) -> datetime:
    """Return at as naive UTC in whole seconds, the form every database stores unchanged."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.replace(microsecond=0)
