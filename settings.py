"""Read the deployment's settings from the environment (and a .env file) once, and check them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent


class SettingsError(SystemExit):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    plant_name: str = "示例化工厂"
    plant_tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    holidays: frozenset[date] = frozenset()
    cert_margin_days: int = 30


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None


def _holidays(raw: str) -> frozenset[date]:
    days = set()
    for item in filter(None, (s.strip() for s in raw.split(","))):
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise SettingsError(f"PLANT_HOLIDAYS: {item!r} is not a date like 2026-10-01") from None
    return frozenset(days)


def load(overrides: dict | None = None) -> Settings:
    """Build Settings from the environment, a .env file and explicit overrides."""
    load_dotenv(ROOT / ".env", override=False)
    env = {**os.environ, **(overrides or {})}
    instance = Path(env.get("INSTANCE_PATH") or ROOT / "instance").resolve()
    url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'permit.db'}"
    if "://" not in url:
        raise SettingsError(f"DATABASE_URL={url!r} is not a URL like postgresql://user@host/db")
    tz_name = env.get("PLANT_TZ") or "Asia/Shanghai"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"PLANT_TZ={tz_name!r} is not a known time zone") from None
    return Settings(
        instance_path=instance,
        database_url=url,
        plant_name=env.get("PLANT_NAME") or "示例化工厂",
        plant_tz=tz,
        holidays=_holidays(env.get("PLANT_HOLIDAYS", "")),
        cert_margin_days=_int(env, "CERT_MARGIN_DAYS", 30),
    )


_current: Settings | None = None


def current() -> Settings:
    """Return the process's settings, loading them on first use."""
    global _current
    if _current is None:
        _current = load()
    return _current


def configure(overrides: dict | None = None) -> Settings:
    """Reload the settings (with overrides); the app factory and tests call this."""
    global _current
    _current = load(overrides)
    return _current
