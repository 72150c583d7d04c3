"""What the commands share: the app's settings, a person named by account, a time in plant time."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import click
from flask import Flask, current_app

import settings as settings_module
from models import Person
from models.people import Ambiguous, NameProblem, resolve
from workflow.clock import parse_local

# Where the composition root leaves its app factory in the click context, for the commands that build
# an app of their own (the demo) without importing the root back.
APP_FACTORY = "app_factory"


def current_settings() -> settings_module.Settings:
    """Return the settings of the app the command runs in, or of the park enterprise it runs for (--enterprise)."""
    conf = settings_module.current()
    return conf if conf is not settings_module.home() else current_app.config["SETTINGS"]


def person(account: str) -> Person:
    """Return the active person named by account (or name, mobile, pinyin), or stop the command naming why."""
    try:
        return resolve(account)
    except Ambiguous as exc:
        raise click.ClickException(f"{exc.message}：请改写账号或手机号") from None
    except NameProblem as exc:
        raise click.ClickException(exc.message) from None


def when(text: str) -> datetime:
    """Read a plant-time moment such as 2026-11-24 08:00, or stop the command with the reason."""
    try:
        return parse_local(text, current_settings().plant_tz)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def app_factory() -> Callable[[], Flask]:
    """Return the app factory that the command group was built with."""
    return click.get_current_context().meta[APP_FACTORY]
