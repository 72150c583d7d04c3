"""The muster (人员清点) of an emergency: who on its permits has reported safe, who has not, who is late."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import settings
from models import AlarmAck, Outbox, Person, utcnow
from models.area import nearest
from models.emergency import Emergency
from models.permit import Permit
from workflow.clock import local

from .roster import muster_list, tag


def minutes() -> int:
    """After this long without a tap a person is flagged: someone must go and look for them."""
    return settings.current().muster_minutes


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
    overdue = now - emergency.raised_at > timedelta(minutes=minutes())
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
    """Return the token that opens the emergency's muster page (anyone with the link may look).

    Issued in a park enterprise, it names the enterprise as a permit's board link does (cards/links.py).
    """
    import hashlib
    import hmac
    from cards import links
    message = f"muster:{emergency.id}{links.signed_enterprise()}"
    return links.stamped(hmac.new(settings.signing_key().encode(), message.encode(), hashlib.sha256).hexdigest()[:32])


def url(emergency: Emergency) -> str:
    """Return the absolute address of the emergency's muster page."""
    return f"{settings.current().public_base_url.rstrip('/')}/muster/{emergency.id}?t={token(emergency)}"


def in_charge(emergency: Emergency) -> list[Person]:
    """Return who holds the live muster card: whoever raised the emergency and the area's safety officer."""
    people = [emergency.raised_by] if emergency.raised_by_id else []
    officer = nearest(emergency.area, "safety_officer")
    if officer is not None and officer.id not in {p.id for p in people}:
        people.append(officer)
    return [p for p in people if p.active]


def _card_rows(emergency: Emergency, why: str, people: list[Person], **extra) -> None:
    for person in people:
        (Outbox.insert(permit_no=(emergency.permit_nos or [None])[0], person=person, kind="muster",
                       payload={"kind": "muster", "emergency": emergency.id, "why": why, **extra},
                       dedupe_key=f"muster:{emergency.id}:{why}:{person.id}")
         .on_conflict_ignore().execute())


def send_cards(emergency: Emergency) -> None:
    """Queue the live muster card to the people in charge (in the transaction that raised it)."""
    _card_rows(emergency, "card", in_charge(emergency))


def refresh_cards(emergency: Emergency, why: str, *, milestone: bool = False, only: Person | None = None) -> None:
    """Queue an in-place update of every muster card of emergency; why keeps one update per cause.

    A milestone (someone is late, everyone is out, the emergency closed) reaches the person even where
    their card can no longer be updated: it comes as a fresh card.
    """
    holders = Outbox.select(Outbox.person).where(Outbox.dedupe_key.startswith(f"muster:{emergency.id}:card:"))
    people = [p for p in Person.select().where(Person.id.in_(holders)) if only is None or p.id == only.id]
    _card_rows(emergency, why, people, milestone=milestone)


def tapped(emergency: Emergency, ack_id: int, *, now: datetime) -> None:
    """Update the muster cards after a tap; the last one missing makes it a milestone."""
    refresh_cards(emergency, f"ack{ack_id}", milestone=muster(emergency, now).complete)


def late_due(now: datetime) -> int:
    """Flag, once, on the muster cards, the open emergencies whose muster is past its minutes; return how many."""
    since = now - timedelta(minutes=minutes())
    flagged = 0
    for emergency in Emergency.select().where(Emergency.closed_at.is_null() & (Emergency.raised_at <= since)):
        if muster(emergency, now).missing:
            refresh_cards(emergency, "late", milestone=True)
            flagged += 1
    return flagged
