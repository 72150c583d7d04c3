"""Which channel reaches a person: a registry of channels by platform name, and each person's choice."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import settings
from models import Person

from .base import PlatformError
from .channel import Channel


class NoChannel(PlatformError):
    def __init__(self, person: Person):
        super().__init__("no_channel", f"{person.name} has no account on a configured platform",
                         retryable=False)


@dataclass(frozen=True)
class _Entry:
    build: Callable[[], Channel]
    account: str                       # the Person column holding the account id on this platform
    configured: Callable[[], bool]
    delivers: Callable[[], bool] = lambda: True   # False: kept for OAuth while another channel carries chat


_entries: dict[str, _Entry] = {}
_built: dict[tuple, Channel] = {}   # by platform and the apps it was built from (a park enterprise has its own)
_building = threading.Lock()
ACCOUNT: dict[str, str] = {}           # platform -> Person column, kept in step with the registry


def register(platform: str, build: Callable[[], Channel], *, account: str,
             configured: Callable[[], bool] = lambda: True, delivers: Callable[[], bool] = lambda: True) -> None:
    """Make platform a channel: build makes it on first use, account names the Person column it reaches."""
    with _building:
        _entries[platform] = _Entry(build, account, configured, delivers)
        ACCOUNT[platform] = account
        _forget(platform)


def unregister(platform: str) -> None:
    """Forget platform's channel."""
    with _building:
        _entries.pop(platform, None)
        ACCOUNT.pop(platform, None)
        _forget(platform)


def _forget(platform: str) -> None:
    for key in [k for k in _built if k[0] == platform]:
        del _built[key]


def _key(platform: str) -> tuple:
    conf = settings.current()
    return platform, conf.wecom, conf.dingtalk, conf.wecom_ws


def configured() -> list[str]:
    """Return the registered platforms that this deployment has settings for, in registration order."""
    return [name for name, entry in _entries.items() if entry.configured()]


def channel(platform: str) -> Channel:
    """Return the channel of platform, built once per settings."""
    entry = _entries.get(platform)
    if entry is None:
        raise PlatformError("no_channel", f"no channel is registered for {platform!r}", retryable=False)
    key = _key(platform)
    with _building:
        if key not in _built:
            _built[key] = entry.build()
        return _built[key]


def adapter_for(platform: str):
    """Return the adapter of platform, or None when it is not configured."""
    entry = _entries.get(platform)
    return channel(platform).adapter if entry is not None and entry.configured() else None


def wecom_adapter():
    """Return the WeCom adapter, or None when WeCom is not configured."""
    return adapter_for("wecom")


def dingtalk_adapter():
    """Return the DingTalk adapter, or None when DingTalk is not configured."""
    return adapter_for("dingtalk")


def platforms_of(person: Person) -> list[str]:
    """The configured platforms person has an account on, the default one first."""
    found = [p for p in configured() if _entries[p].delivers() and getattr(person, _entries[p].account, None)]
    conf = settings.current()
    # WeCom reached through the robot's long connection is still "wecom" to whoever picked the default.
    default = "wecom_ws" if conf.default_platform == "wecom" and conf.wecom_ws else conf.default_platform
    return sorted(found, key=lambda p: p != default)


def remember_platform(person: Person, platform: str) -> None:
    """Note the platform person last acted on, so their cards follow them there."""
    if person.platform == platform or len(platforms_of(person)) < 2:
        return
    # A fact that must outlive Redis: lost, the next card would go to the app the person left.
    Person.update(platform=platform).where(Person.id == person.id).execute()
    person.platform = platform


def platform_for(person: Person) -> str:
    """Return the platform that reaches person: their only one, else where they last acted, else the default."""
    found = platforms_of(person)
    if not found:
        raise NoChannel(person)
    if len(found) == 1:
        return found[0]
    return person.platform if person.platform in found else found[0]


def channel_for(person: Person) -> Channel:
    """Return the channel that reaches person (see platform_for)."""
    return channel(platform_for(person))


def address(person: Person) -> tuple[Channel, str]:
    """Return the channel that reaches person and their account id on it."""
    platform = platform_for(person)
    return channel(platform), getattr(person, _entries[platform].account)


def group_sender(system: str):
    """Return what posts into a group chat of system (wecom: its group robots; dingtalk: the app's robot)."""
    conf = settings.current()
    if system == "wecom":
        from .wecom_group import WeComGroupRobot
        return WeComGroupRobot(conf.wecom_webhook_base)
    adapter = adapter_for(system) if system in _entries else None
    if adapter is None or not hasattr(adapter, "send_group"):
        raise PlatformError("no_group_channel", f"no configured channel posts to {system!r} groups", retryable=False)
    return adapter


def reset() -> None:
    """Forget built channels (after the settings change)."""
    with _building:
        _built.clear()


def _register_shipped() -> None:
    from . import dingtalk_channel, wecom_channel, wecom_ws_channel
    # WECOM_MODE=ws: the robot's long connection replaces the callback app for chat; the app's
    # settings, when given, still serve OAuth for pages opened in WeCom.
    register("wecom", wecom_channel.build, account="wecom_userid",
             configured=lambda: bool(settings.current().wecom), delivers=lambda: not settings.current().wecom_ws)
    register("wecom_ws", wecom_ws_channel.build, account="wecom_userid",
             configured=lambda: bool(settings.current().wecom_ws))
    register("dingtalk", dingtalk_channel.build, account="dingtalk_userid",
             configured=lambda: bool(settings.current().dingtalk))


_register_shipped()
