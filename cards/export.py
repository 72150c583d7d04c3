"""The card an admin watches while an export is built: 正在生成 with its progress, then what was made."""
from __future__ import annotations

from datetime import datetime

import settings
from workflow.clock import local

from . import actions
from .card import PRIMARY, Button, Card, Field

WAITING = "完成后文件会发到本对话；点击“刷新进度”查看最新进度"


def task_id(export_id: str, person_id: int) -> str:
    return f"export-{export_id}-p{person_id}"


def progress_card(export_id: str, *, person_id: int, title: str, percent: int | None,
                  at: datetime) -> Card:
    """Return the card of an export under way (percent None: still waiting for a worker)."""
    shown = "排队中" if percent is None else f"{percent}%"
    when = f"{local(at, settings.current().plant_tz):%H:%M:%S}"
    return Card(kind="progress", task_id=task_id(export_id, person_id), title=f"正在生成：{title}",
                subtitle="正在生成…", fields=(Field("进度", shown), Field("更新于", when)),
                buttons=(Button("刷新进度", actions.export_key(export_id), PRIMARY),), notice=WAITING)


def finished_card(export_id: str, *, person_id: int, title: str, text: str, url: str) -> Card:
    """Return what the card says once the export is made; clicking it opens the download link."""
    return Card(kind="outcome", task_id=task_id(export_id, person_id), title=f"已生成：{title}",
                subtitle="", fields=(), buttons=(), url=url, notice=text)
