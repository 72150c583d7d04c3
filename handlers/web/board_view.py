"""What the board page (现场公示牌) and the printable permit show, read from the database.

Names and roles only: no accounts, phone numbers or locations, since anyone at the site may look.
Nothing here depends on the moment of rendering except check-in validity, so an unchanged permit
renders to the same bytes and the board's ETag stays put.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from peewee import Value

import settings
from models import Alarm, CheckIn, GasReading, Person, Signature, Step
from models.handover import Handover
from models.isolation import STATE_LABELS, IsolationLink, IsolationPoint
from models.permit import Permit
from workflow import machine, onsite, simops, template as templates
from workflow.clock import local
from workflow.gas import CORE, GAS_LABELS, GASES, UNITS
from workflow.rules import UNGRADED
from workflow.states import (ACCEPTED, CANCELLED, CLOSED, COMPLETED, EXPIRED, IN_APPROVAL,
                             IN_PROGRESS, ISSUED, LABELS, RECTIFYING, REJECTED, SUSPENDED)

TONES = {IN_PROGRESS: "go", ISSUED: "ready", SUSPENDED: "stop", EXPIRED: "stop", REJECTED: "stop",
         CLOSED: "done", CANCELLED: "done", IN_APPROVAL: "wait", COMPLETED: "wait",
         RECTIFYING: "wait", ACCEPTED: "wait"}
MARKS = {"in": "签到", "out": "离开现场", "visit": "到访"}
HANDOVER_STATES = {"pending": "待交班人确认", "confirmed_out": "待接班人现场确认", "done": "已交接",
                   "cancelled": "已作废"}
READINGS, MARKS_SHOWN = 5, 12


class BoardView:
    """One permit as the board shows it at `now`."""

    def __init__(self, permit: Permit, now: datetime):
        self.permit, self.now = permit, now
        self.t = templates.get(permit.work_type)
        self.tz = settings.current().plant_tz

    def at(self, moment: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
        return f"{local(moment, self.tz):{fmt}}" if moment else "—"

    # -- the permit ---------------------------------------------------------------------------
    def head(self) -> dict:
        p = self.permit
        grade = "" if p.grade in (None, "", UNGRADED) else p.grade
        step = machine.active_step(p)
        waiting = "、".join(person.name for person in machine.assignees(step)) if step else ""
        # GB 30871 Appendix A names the forms 动火安全作业票, 受限空间安全作业票, ...
        return {"no": p.no, "type": self.t.name, "form": f"{self.t.name.removesuffix('作业')}安全作业票",
                "grade": grade, "state": LABELS[p.state],
                "tone": TONES.get(p.state, "wait"), "location": p.location, "content": p.content,
                "medium": p.medium or "", "unit": p.unit.name,
                "window": f"{self.at(p.planned_start)} 至 {self.at(p.planned_end)}",
                "started": self.at(p.started_at) if p.started_at else "",
                "step": step.name if step else "", "waiting": waiting,
                "leader": getattr(onsite.work_leader(p), "name", ""), "fence": self.fence()}

    def fence(self) -> str:
        """Say where a check-in must be made from, or that this site has no coordinates to check."""
        from workflow import places
        node, own = places.fence_of(self.permit), places.area_of(self.permit)
        if node is None:
            return "本作业地点未登记坐标和范围：签到不核对手机位置"
        where = f"签到须在“{node.name}”{node.radius:.0f} 米范围内，将核对手机位置"
        if own is not None and own.id != node.id:
            return f"“{own.name}”未登记坐标，按上级区域核对：{where}"
        return where

    def people(self) -> list[dict]:
        """Return applicant, work leader, crew and guardians, each with where they stand on site."""
        p = self.permit
        rows = [{"role": "申请人", "name": p.applicant.name, "presence": None}]
        leader = onsite.work_leader(p)
        for person in machine.members(p, onsite.CREW):
            role = onsite.WORK_LEADER if leader and person.id == leader.id else onsite.CREW
            rows.append({"role": role, "name": person.name, "presence": self.presence(person)})
        rows += [{"role": onsite.GUARDIAN, "name": person.name, "presence": self.presence(person)}
                 for person in machine.members(p, onsite.GUARDIAN)]
        return rows

    def presence(self, person: Person) -> dict:
        """Say whether person is checked in (and until when it counts), left, or not yet here."""
        row = onsite.newest_mark(self.permit, person, self.now)
        if row is None:
            return {"text": "未签到", "tone": "none"}
        if row.kind == "out":
            return {"text": f"{self.at(row.at, '%H:%M')} 离开现场", "tone": "out"}
        until = row.at + timedelta(minutes=self.t.checkin_minutes)
        if until >= self.now:
            return {"text": f"{self.at(row.at, '%H:%M')} 签到，{self.at(until, '%H:%M')} 前有效", "tone": "in"}
        return {"text": f"{self.at(row.at, '%H:%M')} 签到（在场）", "tone": "in"}

    def signatures(self) -> list[dict]:
        rows = (Signature.select(Signature, Step, Person).join(Step).switch(Signature).join(Person)
                .where(Signature.permit == self.permit).order_by(Signature.signed_at, Signature.id))
        return [{"step": s.step.name, "name": s.person.name, "at": self.at(s.signed_at),
                 "decision": machine.DECISION_LABELS.get(s.decision, s.decision),
                 "refused": s.decision in ("reject", "return", "rectify"),
                 "comment": s.comment, "waived": (s.evidence or {}).get("onsite_waived", "")}
                for s in rows]

    # -- gas and alarms -----------------------------------------------------------------------
    def _recent(self) -> list[GasReading]:
        if getattr(self, "_recent_rows", None) is None:
            self._recent_rows = list(GasReading.select().where(GasReading.permit == self.permit)
                                     .order_by(GasReading.taken_at.desc(), GasReading.id.desc()).limit(READINGS))
        return self._recent_rows

    def readings(self) -> list[dict]:
        rows = self._recent()
        return [self._reading(r, self.gases(rows)) for r in rows]

    @staticmethod
    def gases(rows: list[GasReading]) -> tuple[str, ...]:
        """The four columns every permit has, then each other gas that one of rows measured."""
        measured = {gas for r in rows for gas in (r.others or {})}
        return CORE + tuple(gas for gas in GASES if gas in measured and gas not in CORE)

    def _reading(self, r: GasReading, gases: tuple[str, ...]) -> dict:
        items = {i["gas"]: i for i in (r.verdict or {}).get("items", [])}
        values = []
        for gas in gases:
            value = getattr(r, gas.lower()) if gas in CORE else (r.others or {}).get(gas)
            item = items.get(gas)
            values.append({"gas": gas, "text": "—" if value is None else f"{value:g}",
                           "ok": None if item is None else item["passed"]})
        result = {True: "合格", False: "不合格", None: "未判定（检测仪测项不全）"}[r.passed]
        source = f"检测仪 {r.device}" if r.device else (f"检测人 {r.tester.name}" if r.tester_id else "—")
        return {"at": self.at(r.taken_at, "%m-%d %H:%M:%S"), "source": source, "values": values,
                "passed": r.passed, "result": result}

    def limits(self) -> list[str]:
        """Return the pass limits the newest judged reading was held to, one line per gas."""
        newest = (GasReading.select().where((GasReading.permit == self.permit)
                                            & GasReading.passed.is_null(False))
                  .order_by(GasReading.taken_at.desc(), GasReading.id.desc()).first())
        items = (newest.verdict or {}).get("items", []) if newest else []
        return [f"{GAS_LABELS[i['gas']]} {i['limit']}" for i in items]

    def alarms(self) -> list[dict]:
        # permit_nos is JSON text: the LIKE narrows (converter=False: the pattern is not itself JSON),
        # the membership test decides.
        pattern = Value(f'%"{self.permit.no}"%', converter=False)
        rows = (Alarm.select().where(Alarm.cleared_at.is_null() & (Alarm.permit_nos ** pattern))
                .order_by(Alarm.raised_at.desc()))
        return [{"level": a.level, "text": a.text, "at": self.at(a.raised_at, "%m-%d %H:%M:%S"),
                 "acknowledged": bool(a.acknowledged_at)}
                for a in rows if self.permit.no in (a.permit_nos or [])]

    def marks(self) -> list[dict]:
        rows = (CheckIn.select(CheckIn, Person).join(Person).where(CheckIn.permit == self.permit)
                .order_by(CheckIn.at.desc(), CheckIn.id.desc()).limit(MARKS_SHOWN))
        return [{"at": self.at(c.at, "%m-%d %H:%M"), "name": c.person.name, "role": c.role,
                 "kind": MARKS.get(c.kind, c.kind)} for c in rows]

    def checklists(self) -> list[dict]:
        """Return each checklist step's items and whether its signer ticked them (for the print)."""
        found = []
        for step in machine.steps(self.permit):
            d = self.t.step(step.key)
            if d.kind != "checklist" or step.state == "skipped":
                continue
            signed = machine.signatures(step)
            ticked = set((signed[-1].evidence or {}).get("ticks", [])) if signed else set()
            found.append({"name": step.name, "items": [(item, item in ticked) for item in d.checklist]})
        return found

    def overlaps(self) -> list[dict]:
        """Return the other live permits working in the same place at the same time (交叉作业)."""
        return [{"rule": simops.LABELS[m.rule], "text": simops.describe(m.other), "state": LABELS[m.other.state]}
                for m in simops.meetings(self.permit)]

    def handovers(self) -> list[dict]:
        """Return the permit's shift handovers, newest first: who to whom, when, and how far confirmed."""
        rows = Handover.select().where(Handover.permit == self.permit).order_by(Handover.id.desc())
        return [{"role": h.role, "outgoing": h.outgoing.name, "incoming": h.incoming.name,
                 "at": self.at(h.requested_at), "state": HANDOVER_STATES.get(h.state, h.state),
                 "done": h.state == "done", "out_at": self.at(h.out_confirmed_at, "%H:%M") if h.out_confirmed_at else "",
                 "in_at": self.at(h.in_confirmed_at, "%H:%M") if h.in_confirmed_at else ""}
                for h in rows]

    def isolations(self) -> list[dict]:
        """Return the permit's isolation points: lock, state, who verified, and whether a photo shows it."""
        rows = (IsolationPoint.select(IsolationPoint, IsolationLink).join(IsolationLink)
                .where(IsolationLink.permit == self.permit).order_by(IsolationLink.id))
        return [{"id": point.id, "tag": point.tag, "method": point.method, "lock_no": point.lock_no,
                 "state": STATE_LABELS[point.state], "isolated_by": point.isolated_by.name,
                 "verified_by": point.verified_by.name if point.verified_by_id else "",
                 "purpose": point.isolationlink.purpose, "photo": point.photo_id or None}
                for point in rows]

    def live(self) -> dict:
        """Return everything the self-refreshing part of the board shows."""
        return {"head": self.head(), "people": self.people(), "signatures": self.signatures(),
                "overlaps": self.overlaps(), "handovers": self.handovers(), "isolations": self.isolations(),
                "readings": self.readings(), "limits": self.limits(), "alarms": self.alarms(),
                "marks": self.marks(), "units": UNITS, "gas_labels": GAS_LABELS, "gases": self.gases(self._recent())}
