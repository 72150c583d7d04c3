"""How one outbox row becomes messages on a channel: which payload is which card, and the card records.

Written once against the Channel interface; what differs between platforms (rendering, how a card
is addressed for an update, duplicate sends) stays in each channel.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import settings
from models import CardRecord, Outbox, utcnow

from .base import PlatformError, fit_utf8
from .channel import Channel

log = logging.getLogger(__name__)
PERMIT_CARD_KINDS = ("act", "info", "stop", "outcome")
OTHER_KINDS = ("reply", "alarm", "alarm_ack", "file", "export", "export_update", "export_done", "isolation",
               "handover", "muster", "pick", "change", "quiz", "courses",
               "inspection", "audit", "meeting")


def deliver(channel: Channel, row: Outbox, user: str) -> None:
    """Send row to user on channel: a text, a file, a new card, or an update of cards they hold."""
    _Delivery(channel, row, user).run()


@contextmanager
def _building(row: Outbox):
    """Turn a card that cannot be built into a final refusal: a retry would build the same nothing."""
    try:
        yield
    except PlatformError:
        raise
    except Exception as exc:
        log.exception("outbox %s: its card could not be built", row.id)
        raise PlatformError("card_unbuildable", f"{type(exc).__name__}: {exc}", retryable=False) from exc


class _Delivery:
    def __init__(self, channel: Channel, row: Outbox, user: str):
        self.channel, self.row, self.user, self.payload = channel, row, user, row.payload

    def run(self) -> None:
        kind = self.payload.get("kind") if isinstance(self.payload, dict) else None
        if kind in PERMIT_CARD_KINDS:
            self._permit_card()
        elif kind in OTHER_KINDS:
            getattr(self, f"_{kind}")()
        else:
            raise PlatformError("unknown_kind", f"outbox row {self.row.id} has kind {kind!r}", retryable=False)

    def _text(self, text: str) -> None:
        self.channel.send_text(self.user, fit_utf8(text, self.channel.limits.text_bytes))

    # -- cards and their records -----------------------------------------------------------------

    def _send(self, card, *, step_key: str | None) -> None:
        token = self.channel.send_card(self.user, card)
        # After a crash the record may exist already (the worker died after writing it).
        (CardRecord.insert(outbox=self.row, person=self.row.person, platform=self.channel.platform,
                           task_id=card.task_id, response_code=token, permit_no=self.row.permit_no or "",
                           step_key=step_key, state="open" if card.buttons or card.checklist else "settled")
         .on_conflict_ignore().execute())

    def _cards(self, step_key: str, *, permit: bool = True, open_only: bool = True) -> list[CardRecord]:
        """Return the person's cards of step_key on this channel that can still be updated."""
        where = ((CardRecord.step_key == step_key) & (CardRecord.person == self.row.person)
                 & (CardRecord.platform == self.channel.platform))
        if open_only:
            where &= CardRecord.state == "open"
        if permit:
            where &= CardRecord.permit_no == self.row.permit_no
        if self.channel.single_use_updates:
            where &= CardRecord.response_code.is_null(False)
        return list(CardRecord.select().where(where))

    def _update(self, record: CardRecord, card, *, settle: bool = True) -> None:
        self.channel.update_card(self.user, replace(card, task_id=record.task_id), token=record.response_code)
        if settle or self.channel.single_use_updates:
            # A spent single-use token cannot change the card again, so it is settled either way.
            record.state, record.response_code, record.updated_at = "settled", None, utcnow()
            record.save()

    def _permit_card(self) -> None:
        from cards.build import NoPermit, card_for
        payload = self.payload
        with _building(self.row):
            try:
                # serial: one outbox row, one card; a resend after a crash reuses its task id.
                card = card_for(self.row.permit_no, person_id=self.row.person_id, kind=payload["kind"],
                                step=payload.get("step"), text=payload["text"],
                                public_base_url=settings.current().public_base_url, serial=self.row.id)
            except NoPermit:
                card = None
        if card is None:
            # No permit to show (an unknown number in a command): the words still reach the person.
            self._text(payload["text"])
            return
        if payload["kind"] == "outcome":
            records = self._cards(payload.get("step"))
            for record in records:
                self._update(record, card)
            if records:
                return
        self._send(card, step_key=payload.get("step"))

    # -- payload kinds that are not permit cards ---------------------------------------------------

    def _reply(self) -> None:
        self._text(self.payload["text"])

    def _alarm(self) -> None:
        from cards.alarm import alarm_card
        with _building(self.row):
            card = alarm_card(self.payload["alarm"], person_id=self.row.person_id, round=self.payload["round"],
                              public_base_url=settings.current().public_base_url, serial=self.row.id)
        self._send(card, step_key=f"alarm-{self.payload['alarm']}")

    def _alarm_ack(self) -> None:
        """Turn the person's open alarm cards into "已确认收到"; without one, say it in chat."""
        from cards.alarm import confirmed_card
        alarm_id, text = self.payload["alarm"], self.payload["text"]
        records = self._cards(f"alarm-{alarm_id}", permit=False)
        for record in records:
            with _building(self.row):
                card = confirmed_card(alarm_id, task_id=record.task_id, text=text,
                                      public_base_url=settings.current().public_base_url)
            self._update(record, card)
        if not records:
            self._text(text)

    def _muster(self) -> None:
        """Send the live muster card, or update in place the person's cards of it.

        Where updates are single-use, a card whose token is spent waits for its 刷新清点 click to be
        updated again; a milestone (someone late, everyone out, closed) then comes as a fresh card.
        """
        from cards.muster import muster_card
        emergency, why = self.payload["emergency"], self.payload["why"]
        with _building(self.row):
            card = muster_card(emergency, person_id=self.row.person_id, serial=self.row.id)
        step = f"muster-{emergency}"
        records = [] if why == "card" else self._cards(step, permit=False)
        for record in records:
            self._update(record, card, settle=card.kind == "outcome")
        if why == "card" or (not records and self.payload.get("milestone")):
            self._send(card, step_key=step)

    def _isolation(self) -> None:
        """Send a point's 确认隔离 / 解除隔离 card, or turn the person's open ones into the outcome."""
        from cards import isolation
        point, ask = self.payload["point"], self.payload["ask"]
        self._ask_or_settle(f"isolation-{point}", ask, self.payload.get("settles"),
                            lambda: isolation.ask_card(point, ask, person_id=self.row.person_id, serial=self.row.id),
                            lambda side, task: isolation.settled_card(point, side, task_id=task))

    def _handover(self) -> None:
        """Send a handover's 确认交班 / 确认接班 card, or turn the person's open one into the outcome."""
        from cards import handover
        number, side = self.payload["handover"], self.payload["side"]
        base = settings.current().public_base_url
        self._ask_or_settle(f"handover-{number}", side, side.removeprefix("settle-") if side.startswith("settle-")
                            else None,
                            lambda: handover.ask_card(number, side, person_id=self.row.person_id, base_url=base,
                                                      serial=self.row.id),
                            lambda which, task: handover.settled_card(number, which, task_id=task))

    def _pick(self) -> None:
        """Send a namesake choice card, or turn the person's open one into the choice made."""
        from cards import namesakes
        number = self.payload["choice"]
        self._ask_or_settle(f"pick-{number}", "ask", "ask" if self.payload.get("settled") else None,
                            lambda: namesakes.pick_card(number, person_id=self.row.person_id, serial=self.row.id),
                            lambda _side, task: namesakes.chosen_card(number, task_id=task))

    def _change(self) -> None:
        """Send a change's 同意变更 card to an approver, or turn their open one into the outcome."""
        from cards import change
        number, side = self.payload["change"], self.payload["side"]
        base = settings.current().public_base_url
        settles = side.removeprefix("settle-") if side.startswith("settle-") else None
        self._ask_or_settle(f"change-{number}", side, settles,
                            lambda: change.ask_card(number, int(side), person_id=self.row.person_id, base_url=base,
                                                    serial=self.row.id),
                            lambda which, task: change.settled_card(number, int(which), task_id=task))

    def _quiz(self) -> None:
        """Send a quiz question's card, or turn the person's cards of it into the answer given."""
        from cards.quiz import answered_card, question_card
        attempt, asked = self.payload["attempt"], self.payload["asked"]
        if self.payload.get("settle"):
            for record in self._cards(f"quiz-{attempt}-{asked}", permit=False):
                with _building(self.row):
                    card = answered_card(attempt, asked, task_id=record.task_id)
                self._update(record, card)
            return
        with _building(self.row):
            card = question_card(attempt, asked, person_id=self.row.person_id, serial=self.row.id)
        self._send(card, step_key=f"quiz-{attempt}-{asked}")

    def _courses(self) -> None:
        """Send the card of the courses open to the person, one button to start each."""
        from cards.quiz import courses_card
        from models import Course
        ids = self.payload["courses"]
        with _building(self.row):
            courses = sorted(Course.select().where(Course.id.in_(ids)), key=lambda c: ids.index(c.id))
            card = courses_card(courses, person_id=self.row.person_id, serial=self.row.id)
        self._send(card, step_key=f"courses-{self.row.id}")

    def _inspection(self) -> None:
        """Send an inspection round's checklist card, or turn the inspector's open one into what was found."""
        from cards import inspection
        number, side = self.payload["inspection"], self.payload["side"]
        settles = side.removeprefix("settle-") if side.startswith("settle-") else None
        self._ask_or_settle(f"inspection-{number}", "ask", settles,
                            lambda: inspection.ask_card(number, person_id=self.row.person_id, serial=self.row.id),
                            lambda _side, task: inspection.settled_card(number, task_id=task))

    def _audit(self) -> None:
        """Send a random audit's checklist card, or turn the officer's open one into the result."""
        from cards import inspection
        number, side = self.payload["audit"], self.payload["side"]
        settles = side.removeprefix("settle-") if side.startswith("settle-") else None
        self._ask_or_settle(f"audit-{number}", "ask", settles,
                            lambda: inspection.audit_card(number, person_id=self.row.person_id, serial=self.row.id),
                            lambda _side, task: inspection.audit_settled_card(number, task_id=task))

    def _meeting(self) -> None:
        """Send a pre-shift meeting's card to an attendee, or turn their open ones into 已参加."""
        from cards import meeting
        number, side = self.payload["meeting"], self.payload["side"]
        settles = side.removeprefix("settle-") if side.startswith("settle-") else None
        person = self.row.person_id
        self._ask_or_settle(f"meeting-{number}", "ask", settles,
                            lambda: meeting.ask_card(number, person_id=person, serial=self.row.id),
                            lambda _side, task: meeting.settled_card(number, person_id=person, task_id=task))

    def _ask_or_settle(self, prefix: str, ask: str, settles: str | None, build, settled) -> None:
        if settles is None:
            with _building(self.row):
                card = build()
            self._send(card, step_key=f"{prefix}-{ask}")
            return
        for record in self._cards(f"{prefix}-{settles}", permit=False):
            with _building(self.row):
                card = settled(settles, record.task_id)
            self._update(record, card)

    def _file(self) -> None:
        try:
            data = Path(self.payload["path"]).read_bytes()
        except OSError as exc:
            raise PlatformError("file_missing", f"{self.payload['filename']}: {exc}", retryable=False) from exc
        self.channel.send_file(self.user, self.payload["filename"], data)

    def _export(self) -> None:
        """Send an export's 正在生成 card; its token is kept for the final state."""
        from cards.export import progress_card
        with _building(self.row):
            card = progress_card(self.payload["export"], person_id=self.row.person_id,
                                 title=self.payload["title"], percent=None, at=utcnow())
        self._send(card, step_key=f"export-{self.payload['export']}")

    def _export_update(self) -> None:
        """Show an export's progress on the clicked card, or what was made if it is done meanwhile.

        Where updates are single-use, the click's own token is used, so the send's token stays for the
        final state; a late refresh never turns a finished card back to a percentage.
        """
        from cards.export import progress_card
        payload = self.payload
        done = Outbox.get_or_none(Outbox.dedupe_key == f"export-done:{payload['export']}")
        with _building(self.row):
            if done is not None:
                card = _final_card(done.payload, person_id=self.row.person_id)
            else:
                card = progress_card(payload["export"], person_id=self.row.person_id, title=payload["title"],
                                     percent=payload.get("percent"), at=utcnow())
        if self.channel.single_use_updates:
            self.channel.update_card(self.user, card, token=payload["response_code"])
            return
        record = (self._cards(f"export-{payload['export']}", permit=False, open_only=False) or [None])[0]
        if record is not None and (done is not None or record.state == "open"):
            self._update(record, card, settle=done is not None)

    def _export_done(self) -> None:
        """Turn the 正在生成 card into what was made (or failed); without the card, say it in text."""
        payload, export = self.payload, self.payload["export"]
        waiting = Outbox.select().where(
            ((Outbox.dedupe_key == f"export:{export}") | Outbox.dedupe_key.startswith(f"export-refresh:{export}:"))
            & Outbox.state.in_(["pending", "sending"]) & (Outbox.person == self.row.person)).exists()
        if waiting:
            # The card, or a refresh of it, is still on its way: it must land before the final state.
            raise PlatformError("export_card_pending", "the progress card is still being delivered", retryable=True)
        records = self._cards(f"export-{export}", permit=False, open_only=False)
        with _building(self.row):
            card = _final_card(payload, person_id=self.row.person_id)
        for record in records:
            self._update(record, card)
        if not records or payload.get("failed") or payload.get("tell"):
            self._text(payload.get("tell") or payload["text"])


def _final_card(done: dict, *, person_id: int):
    """Return the export card's final state from its export_done payload."""
    from cards.card import Card
    from cards.export import finished_card, task_id
    if done.get("failed"):
        return Card(kind="outcome", task_id=task_id(done["export"], person_id), title="导出失败",
                    subtitle=done["title"], fields=(), buttons=(), notice=done["text"])
    return finished_card(done["export"], person_id=person_id, title=done["title"], text=done["text"],
                         url=done["url"])
