"""A chat message whose handling fails, end to end: the person is told, and a retry never doubles it."""
from __future__ import annotations

import pytest

from handlers.chat import commands
from models import Outbox
from models.permit import Permit

from tests.test_wecom_real_path import apply_text, window
from tests.worlds import world as a_world


def _world(request, plant, monkeypatch, redis_conn):
    platform, _, mode = request.param.partition("-")
    with a_world(platform, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn,
                 dingtalk_mode=mode or "stream") as started:
        yield started


@pytest.fixture(params=["wecom", "dingtalk-stream", "dingtalk-http"])
def w(request, plant, monkeypatch, redis_conn):
    yield from _world(request, plant, monkeypatch, redis_conn)


@pytest.fixture(params=["wecom", "dingtalk-http"])
def retrying(request, plant, monkeypatch, redis_conn):
    """The platforms whose retry comes after the first answer (Stream's copies arrive side by side)."""
    yield from _world(request, plant, monkeypatch, redis_conn)


def texts_to(w, user: str) -> list[str]:
    w.drain()
    return [m["content"]["content"] if "content" in m["content"] else m["content"].get("text", "")
            for m in w.phone.messages(user) if m["msgtype"] == "text"]


def statuses(answer: dict) -> list[int]:
    return ([a["status"] for a in answer["attempts"]] if "attempts" in answer
            else [a["code"] for a in answer["acks"]])


def test_an_end_date_of_9999_is_refused_in_chat_and_stores_nothing(w):
    start, _ = window()
    answer = w.phone.text("zhuyan", apply_text().replace(f"结束: {window()[1]}", "结束: 9999-12-31 23:59"))
    assert answer["status"] == 200
    replies = texts_to(w, "zhuyan")
    assert len(replies) == 1 and replies[0].startswith("申请未提交：\n结束：“9999-12-31 23:59”超出范围，须在 ")
    assert Permit.select().count() == 0


def test_a_failure_after_the_draft_committed_is_answered_once_and_the_retry_makes_no_second_draft(w, monkeypatch):
    def broken_submit(permit_no, *, by):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(commands.engine, "submit", broken_submit)
    answer = w.phone._post("/sandbox/text", json={"user": "zhuyan", "content": apply_text(), "repeat": 3})
    # No traceback reaches the platform: the first is answered, the retries are duplicates (DingTalk's
    # HTTP mode names a msgId it saw before with a 409).
    assert statuses(answer)[0] == 200 and set(statuses(answer)[1:]) <= {200, 409}
    w.drain()   # Stream keeps the message in the inbox and a job handles it
    assert Permit.select().count() == 1 and Permit.get().state == "draft"
    assert texts_to(w, "zhuyan") == ["处理时出错，部分内容可能已保存。请发送“待办”或“查询 编号”查看后再操作"]
    assert Outbox.select().where(Outbox.state != "sent").count() == 0


def test_a_failure_before_any_commit_is_refused_in_chat_and_the_retry_gets_through(retrying, monkeypatch):
    w = retrying
    from handlers.chat import dispatch as dispatching
    real, calls = dispatching.handle_text, []

    def fails_once(event, person):
        calls.append(event.dedupe_key)
        if len(calls) == 1:
            raise ConnectionResetError("the database went away mid-read")
        return real(event, person)

    monkeypatch.setattr(dispatching, "handle_text", fails_once)
    answer = w.phone._post("/sandbox/text", json={"user": "zhuyan", "content": "帮助", "repeat": 2})
    assert statuses(answer) == [200, 200] and len(calls) == 2 and calls[0] == calls[1]
    replies = texts_to(w, "zhuyan")
    assert replies[0] == "系统出错，本条消息未办理，请稍后重试" and "申请动火作业" in replies[1] and len(replies) == 2
