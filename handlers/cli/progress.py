"""Progress of long commands on the terminal: to stderr, so stdout stays one parseable result.

Shown when stderr is a terminal, or everywhere with `python app.py --progress …` (a log, a CI run).
"""
from __future__ import annotations

import sys
from typing import Callable

import click

FORCED = "progress"


def shown() -> bool:
    """Whether this command shows its progress."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(FORCED)) or sys.stderr.isatty()


def say(text: str) -> None:
    """Tell the person at the terminal how far the command has got."""
    if shown():
        click.echo(text, err=True)


def percent(label: str, *, every: int = 10) -> Callable[[int], None] | None:
    """Return a listener printing label and each every-th percent, or None when progress is not shown."""
    if not shown():
        return None

    def tell(value: int) -> None:
        if value % every == 0:
            click.echo(f"{label} {value}%", err=True)
    return tell
