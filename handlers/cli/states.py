"""`python app.py states`: the permit's states and moves, from the one transition table."""
from __future__ import annotations

import click

from workflow import states as table


@click.command("states")
@click.option("--mermaid", "as_mermaid", is_flag=True, help="print a Mermaid stateDiagram-v2 (the README's diagram)")
@click.option("--internal", is_flag=True, help="include the commands that record without moving the permit")
def states(as_mermaid: bool, internal: bool) -> None:
    """List every allowed move of a permit (状态流转表)."""
    if as_mermaid:
        click.echo(table.mermaid(internal=internal))
        return
    for row in table.TRANSITIONS:
        if row.dest is None and not internal:
            continue
        dest = table.LABELS[row.dest] if row.dest else "（不变）"
        guard = f"  [{row.guard}]" if row.guard else ""
        click.echo(f"{table.LABELS[row.source]} --{table.COMMAND_LABELS.get(row.event, row.event)}--> {dest}{guard}")
