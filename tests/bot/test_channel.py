"""Channels behind one interface: delivery reaches whatever channel is registered for a person's platform."""
from datetime import timedelta

import pytest

from bot import registry
from bot.channel import Channel, Limits
from jobs import delivery
from models import CardRecord, Outbox, Person
from tests.conftest import MORNING
from workflow import submit
from workflow.walkthrough import draft

MOBILE = "13800000001"


class LongConnection:
    """A third channel as a later one would be: it implements the protocol and records what it is asked."""

    platform = "longconn"
    name = "长连接"
    single_use_updates = False
    limits = Limits(text_bytes=64, file_bytes=1024)

    def __init__(self):
        self.calls = []

    def send_card(self, user, card):
        self.calls.append(("card", user, card))
        return None

    def update_card(self, user, card, *, token):
        self.calls.append(("update", user, card))

    def send_text(self, user, text):
        self.calls.append(("text", user, text))

    def send_file(self, user, filename, data):
        self.calls.append(("file", user, filename))

    def fetch_media(self, media_id):
        return b""

    def oauth_url(self, redirect_uri, state):
        return f"https://longconn.invalid/oauth?state={state}"

    def resolve_code(self, code):
        return MOBILE


@pytest.fixture
def longconn(plant):
    """Register the third channel under a new platform name; nothing else changes."""
    channel = LongConnection()
    registry.register("longconn", lambda: channel, account="mobile")
    yield channel
    registry.unregister("longconn")


@pytest.fixture
def planner_row(plant, person):
    """Submit a permit; return the planner's act row, the planner being reachable only on the third channel."""
    permit = draft("hot_work", start=MORNING)
    submit(permit.no, by=person("zhuyan"), now=MORNING - timedelta(hours=1))
    row = Outbox.get(Outbox.kind == "act")
    Person.update(wecom_userid=None, dingtalk_userid=None, mobile=MOBILE).where(Person.id == row.person_id).execute()
    return row


def test_the_shipped_channels_implement_the_protocol(plant):
    from types import SimpleNamespace
    from bot.dingtalk_channel import DingTalkChannel
    from bot.wecom_channel import WeComChannel
    adapter = SimpleNamespace(max_file_bytes=20 * 1024 * 1024)
    for made in (WeComChannel(adapter), DingTalkChannel(adapter)):
        assert isinstance(made, Channel) and made.limits.file_bytes == adapter.max_file_bytes


def test_a_third_channel_registered_under_a_new_name_gets_the_card(longconn, planner_row):
    assert isinstance(longconn, Channel)
    assert registry.platform_for(planner_row.person) == "longconn"
    assert delivery.deliver(planner_row.id) == "sent"
    [(what, user, card)] = longconn.calls
    assert (what, user, card.kind, [b.label for b in card.buttons]) == ("card", MOBILE, "sign", ["确认", "退回修改"])
    record = CardRecord.get(CardRecord.outbox == planner_row.id)
    assert (record.platform, record.task_id, record.state) == ("longconn", card.task_id, "open")
    assert Outbox.get_by_id(planner_row.id).state == "sent"


def test_a_text_is_cut_to_the_channels_own_limit(longconn, planner_row):
    row = Outbox.create(person=planner_row.person, kind="reply", dedupe_key="long-reply",
                        payload={"kind": "reply", "text": "作业票" * 40})
    assert delivery.deliver(row.id) == "sent"
    [(what, user, text)] = longconn.calls
    assert what == "text" and len(text.encode()) <= 64 and text.endswith("…")


def test_a_notice_about_a_permit_that_does_not_exist_is_sent_as_text(longconn, planner_row):
    row = Outbox.create(person=planner_row.person, kind="info", permit_no="DH-29991231-0001", dedupe_key="gone",
                        payload={"kind": "info", "text": "未办理：没有编号为 DH-29991231-0001 的作业票", "step": None})
    assert delivery.deliver(row.id) == "sent"
    assert longconn.calls == [("text", MOBILE, "未办理：没有编号为 DH-29991231-0001 的作业票")]


def test_a_card_that_cannot_be_built_ends_the_row_failed_with_the_reason(longconn, planner_row, caplog):
    row = Outbox.create(person=planner_row.person, kind="act", permit_no=planner_row.permit_no, dedupe_key="bad",
                        payload={"kind": "act", "text": "请办理", "step": "no_such_step"})
    assert delivery.deliver(row.id) == "failed"
    row = Outbox.get_by_id(row.id)
    assert row.state == "failed" and row.last_error.startswith("card_unbuildable: ValueError")
    assert "no_such_step" in row.last_error and row.id not in delivery.due_rows()
    assert longconn.calls == []
    assert any(f"outbox {row.id}" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_a_row_of_a_kind_nobody_delivers_ends_failed_and_sends_nothing(longconn, planner_row):
    row = Outbox.create(person=planner_row.person, kind="text", dedupe_key="odd",
                        payload={"kind": "text", "text": "一个不存在的消息类型"})
    assert delivery.deliver(row.id) == "failed"
    assert Outbox.get_by_id(row.id).last_error.startswith("unknown_kind")
    assert longconn.calls == []
