"""隔离台账 and 交接班记录: one row per isolation point and one per handover begun in the period."""
from __future__ import annotations

from pathlib import Path

from models import Person
from models.handover import Handover
from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit
from park.enterprises import media_file

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

ISOLATIONS = "隔离台账"
HANDOVERS = "交接班记录"
TIME = 19
ISOLATION_COLUMNS = (
    Column("点位", 14), Column("类型", 8), Column("隔离方式", 10), Column("锁号", 10), Column("挂牌号", 10),
    Column("隔离人", 9), Column("隔离时间", TIME), Column("确认人", 9), Column("确认时间", TIME),
    Column("照片", 18), Column("状态", 10), Column("关联作业票", 40), Column("解除人", 9), Column("解除时间", TIME),
)
HANDOVER_COLUMNS = (
    Column("作业票编号", 19), Column("交接角色", 10), Column("交班人", 9), Column("接班人", 9), Column("状态", 8),
    Column("发起时间", TIME), Column("交班确认时间", TIME), Column("接班确认时间", TIME), Column("交接时状态", 60),
)
PHOTO_COLUMN = 10   # 照片, counted from 1
PURPOSES = {"depends": "依赖", "fits": "堵盲板", "removes": "抽盲板"}
HANDOVER_STATES = {"pending": "待交班确认", "confirmed_out": "待接班确认", "done": "已完成", "cancelled": "已取消"}


def _photo_file(point: IsolationPoint) -> Path | None:
    """Return the stored file of the point's photo, if it has one and the file is still there."""
    if point.photo is None:
        return None
    path = media_file(point.photo.path)
    return path if path.is_file() else None


def _photo_text(point: IsolationPoint, run: Run) -> str:
    # The picture floats over the cell; the text says whose it is and when, and stays when printed.
    if point.photo is None:
        return "无"
    return f"{point.photo.uploaded_by.name} {run.clock(point.photo.created_at):%m-%d %H:%M}"


def _name(person: Person | None) -> str | None:
    return person.name if person is not None else None


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write both sheets for the points isolated and handovers begun in the scope's period."""
    start, end = scope.period.bounds(run.tz)
    heading = run.heading(scope.period.label, scope.describe())
    points = Sheet(book, ISOLATIONS, ISOLATION_COLUMNS, title=f"{ISOLATIONS}（{scope.period.label}）",
                   heading=heading, freeze_columns=1, empty_note="本期间没有能量隔离记录")
    for point in (IsolationPoint.select().where((IsolationPoint.isolated_at >= start)
                                                & (IsolationPoint.isolated_at < end)).order_by(IsolationPoint.id)):
        links = (IsolationLink.select(IsolationLink, Permit).join(Permit)
                 .where(IsolationLink.point == point).order_by(IsolationLink.id))
        points.append([point.tag, point.kind, point.method, point.lock_no, point.tag_no,
                       point.isolated_by.name, run.clock(point.isolated_at), _name(point.verified_by),
                       run.clock(point.verified_at), _photo_text(point, run), STATE_LABELS[point.state],
                       "、".join(f"{l.permit.no}（{PURPOSES[l.purpose]}）" for l in links),
                       _name(point.released_by), run.clock(point.released_at)])
        photo = _photo_file(point)
        if photo is not None:
            points.picture(PHOTO_COLUMN, photo)
    handed = Sheet(book, HANDOVERS, HANDOVER_COLUMNS, title=f"{HANDOVERS}（{scope.period.label}）",
                   heading=heading, freeze_columns=1, empty_note="本期间没有交接班记录")
    for row in (Handover.select().where((Handover.requested_at >= start) & (Handover.requested_at < end))
                .order_by(Handover.id)):
        handed.append([row.permit.no, row.role, row.outgoing.name, row.incoming.name, HANDOVER_STATES[row.state],
                       run.clock(row.requested_at), run.clock(row.out_confirmed_at), run.clock(row.in_confirmed_at),
                       "；".join(f"{k}：{v}" for k, v in (row.situation or {}).items())])
    return {ISOLATIONS: points.finish(), HANDOVERS: handed.finish()}
