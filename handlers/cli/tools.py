"""The safety tool commands: load the tool register from Excel, print the tools' QR labels."""
from __future__ import annotations

import base64
from pathlib import Path

import click

from .database import WORKBOOK, _import_workbook


@click.command("load-tools")
@WORKBOOK
def load_tools_command(file):
    """Register or update safety tools from the tool workbook (工器具 sheet)."""
    from exports.tool_import import format_report, load_tools
    _import_workbook(load_tools, format_report, file)


@click.command("tool-labels")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("工器具标签.html"),
              show_default=True, help="the printable A4 page of labels to write")
@click.option("--kind", default=None, help="only the tools of this kind, e.g. 安全带")
def tool_labels(out, kind):
    """Write a printable page of QR labels, one per registered tool, to stick on the tools."""
    from flask import render_template
    import settings
    from handlers.web.board import qr_png
    from models.tool import Tool
    from tools import labels
    query = Tool.select().order_by(Tool.kind, Tool.no)
    if kind:
        query = query.where(Tool.kind == kind)
    tools = list(query)
    if not tools:
        raise click.ClickException(f"工器具登记册中没有{('“' + kind + '”') if kind else '任何工器具'}，请先运行 load-tools")
    rows = [{"tool": t, "qr": "data:image/png;base64," + base64.b64encode(qr_png(labels.url(t))).decode()}
            for t in tools]
    out.write_text(render_template("tools/labels.html", rows=rows, plant=settings.current().plant_name),
                   encoding="utf-8")
    click.echo(f"已生成 {len(rows)} 张工器具标签：{out}")
