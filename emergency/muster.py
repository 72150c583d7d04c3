"""The muster (人员清点) of an emergency: who on its permits has reported safe, who has not, who is late."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import settings
from models import AlarmAck, Person, utcnow
from models.emergency import Emergency
from models.permit import Permit
from workflow.clock import local

from .stop import muster_list, tag

# After this long without a tap a person is flagged: someone must go and look for them.
MUSTER_MINUTES = 10


@dataclass(frozen=True)
class Entry:
    person: Person
    safe_at: datetime | None
    late: bool


@dataclass(frozen=True)
class Muster:
    emergency: Emergency
    entries: tuple[Entry, ...]

    @property
    def missing(self) -> list[Entry]:
        return [e for e in self.entries if e.safe_at is None]

    @property
    def complete(self) -> bool:
        return not self.missing


def muster(emergency: Emergency, now: datetime | None = None) -> Muster:
    """Return the muster of emergency as of now: everyone on its permits, safe or not."""
    now = now or utcnow()
    permits = list(Permit.select().where(Permit.no.in_(emergency.permit_nos or [""])).order_by(Permit.id))
    taps = {a.person_id: a.at for a in AlarmAck.select().where(AlarmAck.alarm == emergency.alarm_id)}
    overdue = now - emergency.raised_at > timedelta(minutes=MUSTER_MINUTES)
    return Muster(emergency, tuple(Entry(p, taps.get(p.id), overdue and p.id not in taps)
                                   for p in muster_list(permits)))


def summary(m: Muster) -> str:
    """Return the muster as chat text for the person in charge."""
    tz = settings.current().plant_tz
    e = m.emergency
    safe = [f"{x.person.name} {local(x.safe_at, tz):%H:%M}" for x in m.entries if x.safe_at]
    missing = [x.person.name + ("（超时）" if x.late else "") for x in m.missing]
    head = f"{tag(e.drill)}{e.area.name} 人员清点：已撤离 {len(safe)} / {len(m.entries)}"
    lines = [head, f"已撤离：{'、'.join(safe) or '无'}"]
    lines.append(f"未确认：{'、'.join(missing)}" if missing else "全部人员已撤离到安全区")
    if e.closed_at:
        lines.append(f"已于 {local(e.closed_at, tz):%m-%d %H:%M} 解除：{e.handling}")
    return "\n".join(lines)


def token(emergency: Emergency) -> str:
    """Return the token that opens the emergency's muster page (anyone with the link may look)."""
    import hashlib
    import hmac
    return hmac.new(settings.signing_key().encode(), f"muster:{emergency.id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def url(emergency: Emergency) -> str:
    """Return the absolute address of the emergency's muster page."""
    return f"{settings.current().public_base_url.rstrip('/')}/muster/{emergency.id}?t={token(emergency)}"
