"""Which channel reaches a person, and how an outbox row becomes a card on that channel."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from functools import lru_cache

import settings
from models import CardRecord, Outbox, Person, utcnow

from .base import PlatformError, fit_utf8

TASK_ID_TAKEN = 42014  # WeCom: this task_id was used before, so this card was already delivered
TEXT_LIMIT = 2048      # WeCom: bytes in one text message
EXPORT_KINDS = ("file", "export", "export_update", "export_done")



class NoChannel(PlatformError):
    def __init__(self, person: Person):
        super().__init__("no_channel", f"{person.name} has no account on a configured platform",
                         retryable=False)


class WeComChannel:
    """Deliver outbox rows as WeCom template cards; settle open cards in place."""

    platform = "wecom"

    def __init__(self, adapter):
        self.adapter = adapter

    def deliver(self, row: Outbox) -> None:
        from cards import wecom as render
        from cards.build import card_for
        payload, user = row.payload, row.person.wecom_userid
        if payload["kind"] == "reply":
            self.adapter.send_text(user, fit_utf8(payload["text"], TEXT_LIMIT))
            return
        if payload["kind"] == "alarm_ack":
            self._confirm_alarm(row, render)
            return
        if payload["kind"] in EXPORT_KINDS:
            getattr(self, f"_{payload['kind']}")(row, render)
            return
        base_url = settings.current().public_base_url
        if payload["kind"] == "alarm":
            from cards.alarm import alarm_card
            card = alarm_card(payload["alarm"], person_id=row.person_id, round=payload["round"],
                              public_base_url=base_url, serial=row.id)
            self._send(row, card, render, step_key=f"alarm-{payload['alarm']}")
            return
        # serial: one outbox row, one card; a resend after a crash reuses its task id.
        card = card_for(row.permit_no, person_id=row.person_id, kind=payload["kind"],
                        step=payload.get("step"), text=payload["text"],
                        public_base_url=base_url, serial=row.id)
        if payload["kind"] == "outcome" and self._settle(row, card, render):
            return
        self._send(row, card, render, step_key=payload.get("step"))

    def _send(self, row: Outbox, card, render, *, step_key: str | None) -> None:
        user = row.person.wecom_userid
        try:
            result = self.adapter.send_card(user, render.render(card))
        except PlatformError as exc:
            if exc.code != TASK_ID_TAKEN:
                raise
            result = {}
        # After a crash the record may exist already (the worker died after writing it).
        (CardRecord.insert(outbox=row, person=row.person, platform=self.platform,
                           task_id=card.task_id, response_code=result.get("response_code"),
                           permit_no=row.permit_no or "", step_key=step_key,
                           state="open" if card.buttons or card.checklist else "settled")
         .on_conflict_ignore().execute())

    @property
    def max_file_bytes(self) -> int:
        return self.adapter.max_file_bytes

    def _file(self, row: Outbox, _render) -> None:
        """Upload the file and send it as a file message."""
        try:
            data = Path(row.payload["path"]).read_bytes()
        except OSError as exc:
            raise PlatformError("file_missing", f"{row.payload['filename']}: {exc}", retryable=False) from exc
        self.adapter.send_file(row.person.wecom_userid, row.payload["filename"], data)

    def _export(self, row: Outbox, render) -> None:
        """Send an export's 正在生成 card; its send response_code is kept for the final update."""
        from cards.export import progress_card
        payload = row.payload
        card = progress_card(payload["export"], person_id=row.person_id, title=payload["title"], percent=None,
                             at=utcnow())
        self._send(row, card, render, step_key=f"export-{payload['export']}")

    def _export_update(self, row: Outbox, render) -> None:
        """Show an export's progress on the clicked card, with the click's own single-use code.

        The send's code stays unspent for the final state; if that has been written meanwhile, the
        click shows it instead, so a late refresh never turns a finished card back to a percentage.
        """
        from cards.export import finished_card, progress_card
        payload, user = row.payload, row.person.wecom_userid
        done = Outbox.get_or_none(Outbox.dedupe_key == f"export-done:{payload['export']}")
        if done is not None and done.payload.get("failed"):
            self.adapter.update_card([user], payload["response_code"], replace_name="导出失败")
            return
        if done is not None:
            card = finished_card(payload["export"], person_id=row.person_id, title=payload["title"],
                                 text=done.payload["text"], url=done.payload["url"])
        else:
            card = progress_card(payload["export"], person_id=row.person_id, title=payload["title"],
                                 percent=payload.get("percent"), at=utcnow())
        self.adapter.update_card([user], payload["response_code"], card=render.render_update(card)["template_card"])

    def _export_done(self, row: Outbox, render) -> None:
        """Turn the 正在生成 card into what was made (or failed) with the send's code; else say it in text."""
        from cards.export import finished_card
        payload, user = row.payload, row.person.wecom_userid
        export = payload["export"]
        waiting = Outbox.select().where(
            ((Outbox.dedupe_key == f"export:{export}") | Outbox.dedupe_key.startswith(f"export-refresh:{export}:"))
            & Outbox.state.in_(["pending", "sending"]) & (Outbox.person == row.person)).exists()
        if waiting:
            # The card, or a refresh of it, is still on its way: it must land before the final state.
            raise PlatformError("export_card_pending", "the progress card is still being delivered", retryable=True)
        record = CardRecord.get_or_none(
            (CardRecord.step_key == f"export-{export}") & (CardRecord.person == row.person)
            & (CardRecord.platform == self.platform) & CardRecord.response_code.is_null(False))
        if record is not None and payload.get("failed"):
            self.adapter.update_card([user], record.response_code, replace_name="导出失败")
        elif record is not None:
            card = finished_card(export, person_id=row.person_id, title=payload["title"], text=payload["text"],
                                 url=payload["url"])
            self.adapter.update_card([user], record.response_code, card=render.render_update(card)["template_card"])
        if record is not None:
            record.state, record.response_code, record.updated_at = "settled", None, utcnow()
            record.save()
        if record is None or payload.get("failed") or payload.get("tell"):
            self.adapter.send_text(user, fit_utf8(payload.get("tell") or payload["text"], TEXT_LIMIT))

    def _confirm_alarm(self, row: Outbox, render) -> None:
        """Turn the person's open alarm cards into "已确认收到"; without one, say it in chat."""
        from cards.alarm import confirmed_card
        alarm_id, text = row.payload["alarm"], row.payload["text"]
        open_cards = list(CardRecord.select().where(
            (CardRecord.step_key == f"alarm-{alarm_id}") & (CardRecord.person == row.person)
            & (CardRecord.state == "open") & (CardRecord.platform == self.platform)
            & CardRecord.response_code.is_null(False)))
        for record in open_cards:
            card = confirmed_card(alarm_id, task_id=record.task_id, text=text,
                                  public_base_url=settings.current().public_base_url)
            self.adapter.update_card([row.person.wecom_userid], record.response_code,
                                     card=render.render_update(card)["template_card"])
            record.state, record.response_code, record.updated_at = "settled", None, utcnow()
            record.save()
        if not open_cards:
            self.adapter.send_text(row.person.wecom_userid, text)

    def _settle(self, row: Outbox, card, render) -> bool:
        """Update this person's open cards of the step to show how it ended; False if none."""
        open_cards = list(CardRecord.select().where(
            (CardRecord.permit_no == row.permit_no) & (CardRecord.step_key == row.payload.get("step"))
            & (CardRecord.person == row.person) & (CardRecord.state == "open")
            & (CardRecord.platform == self.platform) & CardRecord.response_code.is_null(False)))
        for record in open_cards:
            self.adapter.update_card([row.person.wecom_userid], record.response_code,
                                     card=render.render_update(replace(card, task_id=record.task_id))["template_card"])
            record.state, record.response_code, record.updated_at = "settled", None, utcnow()
            record.save()
        return bool(open_cards)


_building = threading.Lock()


def _wecom():
    with _building:
        return _build_wecom()


@lru_cache(maxsize=1)
def _build_wecom():
    from .wecom import WeComAdapter
    from jobs.connection import redis
    conf = settings.current().wecom
    return WeComChannel(WeComAdapter(corp_id=conf.corp_id, agent_id=conf.agent_id, secret=conf.secret,
                                     token=conf.token, aes_key=conf.aes_key, api_base=conf.api_base,
                                     oauth_base=conf.oauth_base, redis=redis()))


def _dingtalk():
    with _building:
        return _build_dingtalk()


@lru_cache(maxsize=1)
def _build_dingtalk():
    from .dingtalk import DingTalkAdapter
    from .dingtalk_channel import DingTalkChannel
    from jobs.connection import redis
    conf = settings.current().dingtalk
    return DingTalkChannel(DingTalkAdapter(
        app_key=conf.app_key, app_secret=conf.app_secret, corp_id=conf.corp_id, robot_code=conf.robot_code,
        card_template_id=conf.card_template_id, redis=redis(), api_base=conf.api_base, oapi_base=conf.oapi_base,
        login_base=conf.login_base, callback_type="HTTP" if conf.mode == "http" else "STREAM",
        callback_route_key="permit" if conf.mode == "http" else "",
        event_token=conf.event_token, event_aes_key=conf.event_aes_key, replay_window=conf.callback_window))


_CHANNELS = {"wecom": _wecom, "dingtalk": _dingtalk}
ACCOUNT = {"wecom": "wecom_userid", "dingtalk": "dingtalk_userid"}


def wecom_adapter():
    """Return the WeCom adapter, or None when WeCom is not configured."""
    return _wecom().adapter if settings.current().wecom else None


def dingtalk_adapter():
    """Return the DingTalk adapter, or None when DingTalk is not configured."""
    return _dingtalk().adapter if settings.current().dingtalk else None


def adapter_for(platform: str):
    """Return the adapter of platform, or None when it is not configured."""
    return {"wecom": wecom_adapter, "dingtalk": dingtalk_adapter}[platform]()


def platforms_of(person: Person) -> list[str]:
    """The configured platforms person has an account on, the default one first."""
    conf = settings.current()
    found = [p for p in ("wecom", "dingtalk") if getattr(conf, p) and getattr(person, ACCOUNT[p])]
    return sorted(found, key=lambda p: p != conf.default_platform)


def _preference_key(person: Person) -> str:
    return f"platform:person:{person.id}"


def remember_platform(person: Person, platform: str) -> None:
    """Note the platform person last acted on, so their cards follow them there."""
    from jobs.connection import redis
    if len(platforms_of(person)) > 1:
        redis().set(_preference_key(person), platform)


def platform_for(person: Person) -> str:
    """Return the platform that reaches person: their only one, else where they last acted, else the default."""
    found = platforms_of(person)
    if not found:
        raise NoChannel(person)
    if len(found) == 1:
        return found[0]
    from jobs.connection import redis
    last = redis().get(_preference_key(person))
    last = last.decode() if isinstance(last, bytes) else last
    return last if last in found else found[0]


def channel_for(person: Person):
    """Return the channel that reaches person (see platform_for)."""
    return _CHANNELS[platform_for(person)]()


def reset() -> None:
    """Forget built channels (after the settings change)."""
    _build_wecom.cache_clear()
    _build_dingtalk.cache_clear()
