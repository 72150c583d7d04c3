"""The daily scan: warn each holder once as a certificate, or a contractor's authorisation, nears its end."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import Certificate, Outbox, Person, transaction

from . import contractors, matrix
from .days import local_day


def warn_expiring(permit=None, *, at: datetime) -> list[str]:
    """Queue a chat warning to every holder of a certificate about to expire; return the warnings queued.

    Registered as the "certificate_expiry" hook; permit is always None (the scan is plant-wide).
    The outbox's dedupe key carries the expiry date, so a renewed certificate is warned about afresh
    and a re-run of the same day's scan sends nothing twice.
    """
    from jobs import delivery
    today, warn_days = local_day(at), matrix.current().warn_days
    horizon = today + timedelta(days=max(warn_days.values(), default=0))
    due = (Certificate.select(Certificate, Person).join(Person)
           .where(Certificate.revoked_at.is_null() & (Certificate.valid_until >= today)
                  & (Certificate.valid_until <= horizon) & (Person.active == True))  # noqa: E712
           .order_by(Certificate.valid_until, Certificate.id))
    sent, ids = [], []
    with transaction():
        for cert in due:
            days = (cert.valid_until - today).days
            if days > warn_days.get(cert.kind, 0):
                continue
            text = (f"您的{cert.kind}（{cert.number}）将于 {cert.valid_until:%Y-%m-%d} 到期（还有 {days} 天），"
                    f"到期后不能担任需要该证的作业角色，请及时复审或换证。")
            if _queue(ids, cert.person, f"cert-expiry:{cert.id}:{cert.valid_until:%Y%m%d}", text):
                sent.append(f"{cert.person.name} {text}")
        for auth in contractors.expiring(today, matrix.current().contractor_warn_days):
            days = (auth.valid_to - today).days
            text = (f"您（{auth.company}）的临时作业授权将于 {auth.valid_to:%Y-%m-%d} 到期（还有 {days} 天），"
                    f"到期后不能再被安排作业，请联系发包单位办理延期。")
            if _queue(ids, auth.person, f"auth-expiry:{auth.person_id}:{auth.valid_to:%Y%m%d}", text):
                sent.append(f"{auth.person.name} {text}")
    delivery.enqueue(ids)
    return sent


def _queue(ids: list, person: Person, key: str, text: str) -> bool:
    """Queue text to person once per key; return whether it was queued now."""
    # Looked up first: an ignored insert does not say reliably on every database that it was ignored.
    if Outbox.select().where(Outbox.dedupe_key == key).exists():
        return False
    ids.append(Outbox.insert(person=person, kind="reply", dedupe_key=key,
                             payload={"kind": "reply", "text": text}).on_conflict_ignore().execute())
    return True
