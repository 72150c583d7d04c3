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
