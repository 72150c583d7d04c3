"""The dispatcher enqueues exactly the outbox rows that its own request wrote, whatever runs beside it."""
import threading

from bot.base import Event
from handlers.chat import dispatch as dispatching
from handlers.chat.dispatch import dispatch
from models import Outbox


def _event(account: str, text: str, msg_id: str) -> Event:
    return Event(platform="wecom", kind="text", user_id=account, created_at=1, text=text, msg_id=msg_id)


def _rows_of(account: str) -> list[int]:
    return [r.id for r in Outbox.select().order_by(Outbox.id) if r.person.wecom_userid == account]


def test_two_interleaved_requests_each_enqueue_only_their_own_rows(plant, redis_conn, monkeypatch):
    real = dispatching.handle_text
    a_wrote, b_done = threading.Event(), threading.Event()

    def handle_text(event, person):
        result = real(event, person)
        if event.user_id == "zhuyan":
            # A has written and committed its reply; B now writes and enqueues its own before A ends.
            a_wrote.set()
            assert b_done.wait(30), "request B never finished"
        return result

    monkeypatch.setattr(dispatching, "handle_text", handle_text)
    enqueued = {"a": [], "b": []}
    errors = []

    def request(name: str, account: str, text: str, after: threading.Event | None = None) -> None:
        try:
            if after is not None:
                assert after.wait(30), "request A never wrote"
            dispatch(_event(account, text, f"m-{name}"), redis=redis_conn, enqueue=enqueued[name].extend)
        except BaseException as exc:   # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            if name == "b":
                b_done.set()

    a = threading.Thread(target=request, args=("a", "zhuyan", "帮助"))
    b = threading.Thread(target=request, args=("b", "zhengji", "你好", a_wrote))
    a.start(), b.start()
    a.join(60), b.join(60)
    assert not errors, errors
    mine, theirs = _rows_of("zhuyan"), _rows_of("zhengji")
    assert mine and theirs and max(mine) < min(theirs)   # B's rows came after A's, while A was running
    assert enqueued == {"a": mine, "b": theirs}


def test_a_request_whose_transaction_rolled_back_enqueues_nothing_of_it(plant, redis_conn, monkeypatch):
    from models import transaction

    def handle_text(event, person):
        try:
            with transaction():
                Outbox.create(person=person, kind="reply", payload={"kind": "reply", "text": "不该发出"},
                              dedupe_key="rolled-back")
                raise RuntimeError("the change failed after writing its message")
        except RuntimeError:
            pass
        Outbox.create(person=person, kind="reply", payload={"kind": "reply", "text": "未办理"}, dedupe_key="kept")
        return "refused"

    monkeypatch.setattr(dispatching, "handle_text", handle_text)
    enqueued = []
    assert dispatch(_event("zhuyan", "随便", "m-1"), redis=redis_conn, enqueue=enqueued.extend) == "refused"
    assert enqueued == [Outbox.get(Outbox.dedupe_key == "kept").id]
    assert not Outbox.select().where(Outbox.dedupe_key == "rolled-back").exists()


def _texts_to(account: str) -> list[str]:
    return [r.payload["text"] for r in Outbox.select().order_by(Outbox.id) if r.person.wecom_userid == account]


def test_a_failure_after_a_commit_keeps_the_event_seen_so_a_retry_does_nothing(plant, redis_conn, monkeypatch):
    from models import AuditEvent, transaction
    from workflow import audit

    calls = []

    def handle_text(event, person):
        calls.append(event.msg_id)
        with transaction():
            audit.append(permit_no=None, actor=person.label(), action="probe", data={}, at=Outbox.created_at.default())
        raise OverflowError("date value out of range")

    monkeypatch.setattr(dispatching, "handle_text", handle_text)
    enqueued = []
    event = _event("zhuyan", "申请动火作业", "m-9")
    assert dispatch(event, redis=redis_conn, enqueue=enqueued.extend) == dispatching.FAILED_KEPT
    assert dispatch(event, redis=redis_conn, enqueue=enqueued.extend) == "duplicate"
    assert calls == ["m-9"] and AuditEvent.select().where(AuditEvent.action == "probe").count() == 1
    assert _texts_to("zhuyan") == ["处理时出错，部分内容可能已保存。请发送“待办”或“查询 编号”查看后再操作"]
    assert enqueued == [r.id for r in Outbox.select()]


def test_a_failure_before_any_commit_forgets_the_event_and_says_so_in_chat(plant, redis_conn, monkeypatch):
    from models import transaction

    calls = []

    def handle_text(event, person):
        calls.append(event.msg_id)
        if len(calls) == 1:
            with transaction():
                Outbox.create(person=person, kind="reply", payload={"kind": "reply", "text": "不该发出"},
                              dedupe_key="rolled-back")
                raise KeyError("boom")
        return "帮助"

    monkeypatch.setattr(dispatching, "handle_text", handle_text)
    enqueued = []
    event = _event("zhuyan", "帮助", "m-10")
    assert dispatch(event, redis=redis_conn, enqueue=enqueued.extend) == dispatching.FAILED
    assert _texts_to("zhuyan") == ["系统出错，本条消息未办理，请稍后重试"]
    assert enqueued == [r.id for r in Outbox.select()]
    # The platform's retry is handled afresh, and its own answer does not collide with the refusal.
    assert dispatch(event, redis=redis_conn, enqueue=enqueued.extend) == "帮助"
    assert calls == ["m-10", "m-10"]
