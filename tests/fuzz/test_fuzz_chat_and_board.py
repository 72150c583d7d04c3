"""Fuzz what people type in chat (through the dispatcher) and the board's query strings."""
from __future__ import annotations

import time
import uuid

from hypothesis import example, given, strategies as st

from bot.base import Event
from models import Outbox, Permit, Signature

from tests.fuzz.conftest import stored
from tests.fuzz.strategies import ACCOUNTS, PERMIT_NOS, card_key, chat_text, value


@given(user=st.sampled_from(ACCOUNTS), text=chat_text(), platform=st.sampled_from(["wecom", "dingtalk"]),
       click=st.none() | card_key())
def test_any_chat_message_or_click_gets_an_answer_or_a_refusal_never_an_error(fuzz_app, tried, user, text,
                                                                             platform, click):
    from handlers.chat.dispatch import dispatch
    from jobs.connection import redis
    tried()
    before = stored()
    kind = "click" if click is not None else "text"
    event = Event(platform=platform, kind=kind, user_id=user, created_at=int(time.time()), text=text,
                  key=click or "", task_id=str(uuid.uuid4()), msg_id=str(uuid.uuid4()))
    with fuzz_app.app_context():
        result = dispatch(event, redis=redis(), enqueue=lambda ids: None)
    assert isinstance(result, str) and result
    after = stored()
    # Random words sign nothing; what they may write is an answer in chat to the one who wrote.
    assert after["signature"] == before["signature"]
    assert after["permit"] - before["permit"] <= 1
    new = Outbox.select().order_by(Outbox.id.desc()).limit(after["outbox"] - before["outbox"])
    # Accounts compare without case where the engine's collation does (MySQL): WeCom's userids ignore case too.
    writer = user.strip().casefold()
    assert all(row.person.account.casefold() == writer for row in new) or not new.count()


QUERY = st.dictionaries(st.sampled_from(["t", "exp", "sig", "m", "code", "authCode", "state", "p", "from", "x"]),
                        value, max_size=5)


@given(no=st.sampled_from(PERMIT_NOS) | st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s),
       page=st.sampled_from(["", "/scan", "/live", "/qr.png", "/print"]), query=QUERY)
def test_any_board_query_string_is_answered_without_a_5xx(fuzz_app, tried, no, page, query):
    tried()
    before = stored()
    answer = fuzz_app.test_client().get(f"/board/{no}{page}", query_string=query)
    assert answer.status_code < 500, answer.get_data(as_text=True)[:300]
    assert "Traceback" not in answer.get_data(as_text=True)
    if answer.status_code >= 400:
        assert stored() == before


@given(alarm=st.integers(-(10 ** 30), 10 ** 30).map(str) | st.text(max_size=20).filter(lambda s: "/" not in s),
       token=st.text(min_size=1, max_size=60).filter(lambda s: "/" not in s))
@example(alarm="9223372036854775808", token="0")   # one past a 64-bit id was a 500
def test_alarm_pages_and_download_links_answer_any_id_without_a_5xx(fuzz_app, tried, alarm, token):
    tried()
    client = fuzz_app.test_client()
    assert client.get(f"/alarms/{alarm}").status_code < 500
    assert client.get(f"/exports/{token}").status_code < 500
