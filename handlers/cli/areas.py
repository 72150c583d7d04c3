"""`python app.py area-board 区域`: the signed link (and QR code) of an area's board, for its entrance tablet."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("area-board")
@click.argument("name")
@click.option("--qr", "qr_file", type=click.Path(dir_okay=False), default=None,
              help="save the board's link as a QR code PNG")
def area_board(name, qr_file):
    """Print the signed link of the area board of NAME (a place of the 区域 sheet)."""
    from handlers.web.area_board import url
    from handlers.web.board import qr_png
    from workflow import places
    area = places.node_named(name)
    if area is None:
        near = "、".join(places.suggestions(name))
        raise click.ClickException(f"区域表中没有“{name}”" + (f"，最接近的是：{near}" if near else ""))
    link = url(area)
    click.echo(f"区域公示牌：{link}")
    if qr_file:
        Path(qr_file).write_bytes(qr_png(link))
        click.echo(f"二维码已保存：{qr_file}")
