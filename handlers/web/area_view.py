"""What an area's board shows: every live permit under the place, its crew on site, detectors and alarms."""
from __future__ import annotations

from datetime import datetime

import settings
from models import Alarm, Emergency, Sensor
from models.area import Area, parents, within
from models.emergency import MUSTER_LEVELS
from models.permit import Permit
from models.sensor import FIXED
from workflow import places, template as templates
from workflow.clock import local
from workflow.simops import LIVE

from .board_view import BoardView


class AreaView:
    """Read an area and everything live under it once; render nothing."""

    def __init__(self, area: Area, now: datetime):
        self.area, self.now, self.tz = area, now, settings.current().plant_tz
        parent_of = parents()
        self.places = {a.id: a.name for a in Area.select(Area.id, Area.name) if within(a.id, area.id, parent_of)}
        inside = places.coverage(area.name)
        self.permits = [p for p in Permit.select().where(Permit.state.in_(LIVE)).order_by(Permit.id) if inside(p)]

    def at(self, moment: datetime | None, fmt: str) -> str:
        return f"{local(moment, self.tz):{fmt}}" if moment else "—"

    def permit_rows(self) -> list[dict]:
        rows = []
        for permit in self.permits:
            view = BoardView(permit, self.now)
            head = view.head()
            on_site = [p["name"] for p in view.people() if (p.get("presence") or {}).get("tone") == "in"]
            rows.append({"no": permit.no, "type": templates.get(permit.work_type).name, "grade": permit.grade or "",
                         "location": permit.location, "state": head["state"], "tone": head["tone"],
                         "step": head.get("step") or "", "on_site": sorted(set(on_site)),
                         "alarms": len(view.alarms()), "handovers": view.handovers()[:2]})
        return rows

    def detectors(self) -> list[dict]:
        names = set(self.places.values())
        fixed = [s for s in Sensor.select().where((Sensor.kind == FIXED) & (Sensor.enabled == True))  # noqa: E712
                 if places.split(s.area)[0] is not None and places.split(s.area)[0].name in names]
        return [{"code": s.code, "name": s.name, "area": s.area,
                 "seen": self.at(s.last_seen_at, "%H:%M:%S") if s.last_seen_at else "从未上报",
                 "offline": s.offline_since is not None} for s in sorted(fixed, key=lambda s: s.code)]

    def alarms(self) -> list[dict]:
        numbers = {p.no for p in self.permits}
        codes = {d["code"] for d in self.detectors()}
        # The open emergency has its own banner; listing its carrier alarm as a gas alarm would say it twice.
        rows = (Alarm.select().where(Alarm.cleared_at.is_null() & Alarm.level.not_in(MUSTER_LEVELS))
                .order_by(Alarm.raised_at.desc()))
        return [{"level": a.level, "text": a.text, "at": self.at(a.raised_at, "%m-%d %H:%M:%S"),
                 "acknowledged": bool(a.acknowledged_at)}
                for a in rows if numbers & set(a.permit_nos or []) or (a.device or "") in codes]

    def emergency(self) -> dict | None:
        open_here = (Emergency.select().where(Emergency.closed_at.is_null()).order_by(Emergency.raised_at.desc()))
        for e in open_here:
            if e.area_id in self.places or within(self.area.id, e.area_id):
                return {"drill": e.drill, "area": e.area.name, "at": self.at(e.raised_at, "%H:%M")}
        return None

    def live(self) -> dict:
        """Return the part of the board that refreshes itself."""
        rows = self.permit_rows()
        return {"area": self.area.name, "permits": rows, "detectors": self.detectors(), "alarms": self.alarms(),
                "emergency": self.emergency(), "on_site": sum(len(r["on_site"]) for r in rows)}
