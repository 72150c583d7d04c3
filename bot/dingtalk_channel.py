"""Deliver outbox rows as DingTalk interactive cards and robot messages; settle cards in place.

The same payload kinds as the WeCom channel (bot/registry.py), with one difference that makes this
side simpler: a DingTalk card is updated through its outTrackId as often as needed, where WeCom hands
out single-use response codes. So settling a card, confirming an alarm or showing an export's
progress is one update of the card the person already has.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import settings
from models import CardRecord, Outbox, utcnow

from .base import PlatformError, fit_utf8

CARD_EXISTS = "card_exists"   # the outTrackId was delivered before: a resend after a crash
TEXT_LIMIT = 4096             # bytes of one sampleText message we allow ourselves [unverified: no documented cap]
EXPORT_KINDS = ("file", "export", "export_update", "export_done")



class DingTalkChannel:
    platform = "dingtalk"

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def max_file_bytes(self) -> int:
        return self.adapter.max_file_bytes

    def deliver(self, row: Outbox) -> None:
        from cards.build import card_for
        payload, user = row.payload, row.person.dingtalk_userid
        kind = payload["kind"]
        if kind == "reply":
            self.adapter.send_text(user, fit_utf8(payload["text"], TEXT_LIMIT))
            return
        if kind == "alarm_ack":
            self._confirm_alarm(row)
            return
        if kind in EXPORT_KINDS:
            getattr(self, f"_{kind}")(row)
            return
        base_url = settings.current().public_base_url
        if kind == "alarm":
            from cards.alarm import alarm_card
            card = alarm_card(payload["alarm"], person_id=row.person_id, round=payload["round"],
                              public_base_url=base_url, serial=row.id)
            self._send(row, card, step_key=f"alarm-{payload['alarm']}")
            return
        card = card_for(row.permit_no, person_id=row.person_id, kind=kind, step=payload.get("step"),
                        text=payload["text"], public_base_url=base_url, serial=row.id)
        if kind == "outcome" and self._settle(row, card):
            return
        self._send(row, card, step_key=payload.get("step"))

    # -- cards -------------------------------------------------------------------------------------

    def _send(self, row: Outbox, card, *, step_key: str | None) -> None:
        from cards import dingtalk as render
        try:
            self.adapter.send_card(row.person.dingtalk_userid, render.render(card))
        except PlatformError as exc:
            if exc.code != CARD_EXISTS:
                raise
        (CardRecord.insert(outbox=row, person=row.person, platform=self.platform, task_id=card.task_id,
                           response_code=None, permit_no=row.permit_no or "", step_key=step_key,
                           state="open" if card.buttons or card.checklist else "settled")
         .on_conflict_ignore().execute())

    def _update(self, record: CardRecord, card, *, settle: bool = True) -> None:
        from cards import dingtalk as render
        self.adapter.update_card(record.task_id, render.render_update(replace(card, task_id=record.task_id)))
        if settle:
            record.state, record.updated_at = "settled", utcnow()
            record.save()

    def _open_cards(self, row: Outbox, step_key: str, *, permit: bool = True) -> list[CardRecord]:
        where = ((CardRecord.step_key == step_key) & (CardRecord.person == row.person)
                 & (CardRecord.state == "open") & (CardRecord.platform == self.platform))
        if permit:
            where &= CardRecord.permit_no == row.permit_no
        return list(CardRecord.select().where(where))

    def _settle(self, row: Outbox, card) -> bool:
        """Turn this person's open cards of the step into how it ended; False if there are none."""
        records = self._open_cards(row, row.payload.get("step"))
        for record in records:
            self._update(record, card)
        return bool(records)

    def _confirm_alarm(self, row: Outbox) -> None:
        from cards.alarm import confirmed_card
        alarm_id, text = row.payload["alarm"], row.payload["text"]
        records = self._open_cards(row, f"alarm-{alarm_id}", permit=False)
        for record in records:
            self._update(record, confirmed_card(alarm_id, task_id=record.task_id, text=text,
                                                public_base_url=settings.current().public_base_url))
        if not records:
            self.adapter.send_text(row.person.dingtalk_userid, text)

    # -- exports -----------------------------------------------------------------------------------

    def _file(self, row: Outbox) -> None:
        try:
            data = Path(row.payload["path"]).read_bytes()
        except OSError as exc:
            raise PlatformError("file_missing", f"{row.payload['filename']}: {exc}", retryable=False) from exc
        self.adapter.send_file(row.person.dingtalk_userid, row.payload["filename"], data)

    def _export(self, row: Outbox) -> None:
        from cards.export import progress_card
        payload = row.payload
        card = progress_card(payload["export"], person_id=row.person_id, title=payload["title"], percent=None,
                             at=utcnow())
        self._send(row, card, step_key=f"export-{payload['export']}")

    def _export_card(self, row: Outbox) -> CardRecord | None:
        return CardRecord.get_or_none((CardRecord.step_key == f"export-{row.payload['export']}")
                                      & (CardRecord.person == row.person) & (CardRecord.platform == self.platform))

    def _export_update(self, row: Outbox) -> None:
        """Show the progress on the card (or, if it is done meanwhile, what was made)."""
        from cards.export import progress_card
        record = self._export_card(row)
        if record is None or record.state != "open":
            return   # the final state is on the card already; a late refresh must not undo it
        payload = row.payload
        card = progress_card(payload["export"], person_id=row.person_id, title=payload["title"],
                             percent=payload.get("percent"), at=utcnow())
        self._update(record, card, settle=False)

    def _export_done(self, row: Outbox) -> None:
        from cards.card import Card
        from cards.export import finished_card
        payload, export = row.payload, row.payload["export"]
        waiting = Outbox.select().where((Outbox.dedupe_key == f"export:{export}")
                                        & Outbox.state.in_(["pending", "sending"])
                                        & (Outbox.person == row.person)).exists()
        if waiting:
            raise PlatformError("export_card_pending", "the progress card is still being delivered", retryable=True)
        record = self._export_card(row)
        if record is not None:
            if payload.get("failed"):
                card = Card(kind="outcome", task_id=record.task_id, title=f"导出失败：{payload['title']}",
                            subtitle="", fields=(), buttons=(), notice=payload["text"])
            else:
                card = finished_card(export, person_id=row.person_id, title=payload["title"],
                                     text=payload["text"], url=payload["url"])
            self._update(record, card)
        if record is None or payload.get("failed") or payload.get("tell"):
            self.adapter.send_text(row.person.dingtalk_userid,
                                   fit_utf8(payload.get("tell") or payload["text"], TEXT_LIMIT))
