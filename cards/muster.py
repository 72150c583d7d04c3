"""The live muster card (人员清点) of the person in charge of an emergency, updated in place after each tap."""
from __future__ import annotations

import settings
from emergency.muster import minutes, muster, url
from emergency.roster import tag
from models import Emergency, utcnow
from workflow.clock import local

from . import actions
from .card import PRIMARY, Button, Card, Field

NAMES = 12   # names past this many are counted, not listed: the card must stay readable on a phone


def task_id(emergency_id: int, person_id: int, serial: int | None = None) -> str:
    return f"muster-{emergency_id}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _names(entries, *, late_mark: bool) -> str:
    names = [e.person.name + ("（超时）" if late_mark and e.late else "") for e in entries]
    shown = "、".join(names[:NAMES])
    return shown + (f" 等 {len(names)} 人" if len(names) > NAMES else "")


def muster_card(emergency_id: int, *, person_id: int, serial: int | None = None) -> Card:
    """Return the muster card as of now: counts, who is missing (late ones flagged), who is safe."""
    e = Emergency.get_by_id(emergency_id)
    now = utcnow()
    m, tz = muster(e, now), settings.current().plant_tz
    safe = [x for x in m.entries if x.safe_at]
    late = [x for x in m.missing if x.late]
    fields = (Field("区域", e.area.name), Field("已撤离", f"{len(safe)} / {len(m.entries)}"),
              Field("未确认", str(len(m.missing))), Field("超时未确认", str(len(late))),
              Field("发起", f"{local(e.raised_at, tz):%H:%M}"), Field("更新于", f"{local(now, tz):%H:%M:%S}"))
    lines = []
    if late:
        lines.append(f"超过 {minutes()} 分钟未确认，请立即寻找：{_names(late, late_mark=False)}")
    if m.missing:
        lines.append(f"未确认：{_names(m.missing, late_mark=True)}")
    else:
        lines.append("全部人员已撤离到安全区")
    lines.append(f"已撤离：{_names(safe, late_mark=False) or '无'}")
    title = f"{tag(e.drill)}{e.area.name} 人员清点"
    if e.closed_at:
        lines.insert(0, f"已于 {local(e.closed_at, tz):%H:%M} 解除：{e.handling}")
        return Card(kind="outcome", task_id=task_id(e.id, person_id, serial), title=f"{title}（已解除）",
                    subtitle=e.text, fields=fields, buttons=(), url=url(e), notice="\n".join(lines))
    return Card(kind="progress", task_id=task_id(e.id, person_id, serial), title=title, subtitle=e.text,
                fields=fields, buttons=(Button("刷新清点", actions.muster_key(e.id), PRIMARY),), url=url(e),
                notice="\n".join(lines))
