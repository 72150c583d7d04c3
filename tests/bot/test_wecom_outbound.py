"""The WeCom adapter's outbound calls, made by the real wechatpy client against the sandbox over HTTP."""
from __future__ import annotations

import uuid

import pytest
import requests

from bot.base import PlatformError, RateLimited
from tests.bot.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

USERS = ["zhangsan", "lisi", "wangwu"]


@pytest.fixture
def sandbox():
    """Yield the base URL of a fresh WeCom sandbox served on loopback."""
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    app = create_wecom_sandbox(corp_id=CORP_ID, corp_secret=SECRET, agent_id=AGENT_ID, token=TOKEN,
                               aes_key=AES_KEY, callback_url="http://127.0.0.1:9/wecom/callback", users=USERS)
    base, stop = run_in_thread(app)
    yield base
    stop()


@pytest.fixture
def adapter(make_adapter, sandbox):
    return make_adapter(api_base=sandbox)


def admin(base: str, method: str, path: str, **kwargs):
    res = requests.request(method, base + path, timeout=5, **kwargs)
    res.raise_for_status()
    return res.json()


def stats(base: str) -> dict:
    return admin(base, "GET", "/sandbox/stats")


def received(base: str, user: str) -> list[dict]:
    return admin(base, "GET", "/sandbox/messages", params={"user": user})


def fault(base: str, **spec) -> None:
    admin(base, "POST", "/sandbox/faults", json=spec)


def card(title: str = "动火作业 HW-20261124-001", task_id: str | None = None) -> dict:
    return {"card_type": "button_interaction", "task_id": task_id or f"t{uuid.uuid4().hex}",
            "main_title": {"title": title, "desc": "第3步：气体分析"},
            "horizontal_content_list": [{"keyname": "地点", "value": "3#罐区东侧管廊"}],
            "button_list": [{"text": "同意", "style": 1, "key": "permit.approve:HW-1:s3"},
                            {"text": "驳回", "style": 2, "key": "permit.reject:HW-1:s3"}]}


def test_a_card_reaches_its_member_with_its_buttons(adapter, sandbox):
    sent = card()
    result = adapter.send_card("zhangsan", sent)
    assert result["msgid"] and result["response_code"] and result["invaliduser"] == ""
    [message] = received(sandbox, "zhangsan")
    assert message["msgid"] == result["msgid"] and message["task_id"] == sent["task_id"]
    assert [b["text"] for b in message["card"]["button_list"]] == ["同意", "驳回"]
    assert received(sandbox, "lisi") == []


def test_a_text_message_is_delivered(adapter, sandbox):
    adapter.send_text("lisi", "待办：2 项")
    [message] = received(sandbox, "lisi")
    assert message["msgtype"] == "text" and message["content"] == {"content": "待办：2 项"}


def test_the_token_is_fetched_once_and_shared_by_every_adapter_on_the_redis(make_adapter, sandbox):
    first, second = make_adapter(api_base=sandbox), make_adapter(api_base=sandbox)
    first.send_card("zhangsan", card())
    second.send_card("lisi", card())
    second.send_text("wangwu", "好")
    assert stats(sandbox)["gettoken"] == 1 and stats(sandbox)["message/send"] == 3


def test_a_revoked_token_is_refreshed_once_and_the_send_succeeds(adapter, sandbox):
    adapter.send_text("zhangsan", "一")
    fault(sandbox, revoke_tokens=True)
    adapter.send_card("zhangsan", card())
    assert len(received(sandbox, "zhangsan")) == 2
    assert stats(sandbox)["gettoken"] == 2 and stats(sandbox)["message/send"] == 3


def test_a_platform_stuck_on_expired_tokens_gives_an_error_after_one_refresh(adapter, sandbox):
    fault(sandbox, api="message/send", errcode=42001)
    with pytest.raises(PlatformError) as failed:
        adapter.send_card("zhangsan", card())
    assert failed.value.code == 42001
    assert stats(sandbox)["gettoken"] == 2 and stats(sandbox)["message/send"] == 2
    assert received(sandbox, "zhangsan") == []


def test_an_invalid_token_error_is_refreshed_too(adapter, sandbox):
    fault(sandbox, api="message/send", errcode=40014, times=1)
    adapter.send_text("zhangsan", "一")
    assert len(received(sandbox, "zhangsan")) == 1 and stats(sandbox)["gettoken"] == 2


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_frequency_limits_are_retryable_errors_without_delivery(adapter, sandbox, errcode):
    fault(sandbox, api="message/send", errcode=errcode, times=1)
    with pytest.raises(PlatformError) as failed:
        adapter.send_card("zhangsan", card())
    assert (failed.value.code, failed.value.retryable) == (errcode, True)
    assert stats(sandbox)["message/send"] == 1 and received(sandbox, "zhangsan") == []


def test_a_busy_platform_is_retried_and_the_card_delivered_once(make_adapter, sandbox):
    naps = []
    adapter = make_adapter(api_base=sandbox, sleep=naps.append)
    fault(sandbox, api="message/send", errcode=-1, times=2)
    adapter.send_card("zhangsan", card())
    assert len(received(sandbox, "zhangsan")) == 1 and stats(sandbox)["message/send"] == 3
    assert naps == [0.1, 0.2]


def test_a_platform_busy_for_too_long_is_a_retryable_error(adapter, sandbox):
    fault(sandbox, api="message/send", errcode=-1)
    with pytest.raises(PlatformError) as failed:
        adapter.send_card("zhangsan", card())
    assert (failed.value.code, failed.value.retryable) == (-1, True)
    assert stats(sandbox)["message/send"] == 4 and received(sandbox, "zhangsan") == []


def test_a_reused_task_id_and_an_unknown_member_are_final_errors(adapter, sandbox):
    sent = card(task_id="permit42-s3-v1")
    adapter.send_card("zhangsan", sent)
    with pytest.raises(PlatformError) as failed:
        adapter.send_card("lisi", sent)
    assert (failed.value.code, failed.value.retryable) == (42014, False)
    with pytest.raises(PlatformError) as failed:
        adapter.send_text("nobody", "hi")
    assert (failed.value.code, failed.value.retryable) == (81013, False)
    assert "user & party & tag all invalid" in failed.value.message


def test_a_slow_platform_is_a_retryable_http_error(make_adapter, sandbox):
    adapter = make_adapter(api_base=sandbox, timeout=0.3)
    adapter.send_text("zhangsan", "warm the token")
    fault(sandbox, api="message/send", delay=1.0, times=1)
    with pytest.raises(PlatformError) as failed:
        adapter.send_text("zhangsan", "slow")
    assert (failed.value.code, failed.value.retryable) == ("http", True)


def test_a_card_is_updated_once_per_response_code(adapter, sandbox):
    result = adapter.send_card("zhangsan", card())
    adapter.update_card(["zhangsan"], result["response_code"], replace_name="已由 张三 于 10:42 同意")
    [message] = received(sandbox, "zhangsan")
    assert message["state"]["replace_name"] == "已由 张三 于 10:42 同意"
    calls = stats(sandbox)["message/update_template_card"]
    with pytest.raises(PlatformError) as failed:
        adapter.update_card(["zhangsan"], result["response_code"], replace_name="again")
    assert failed.value.retryable is False
    assert stats(sandbox)["message/update_template_card"] == calls  # refused before calling


def test_a_resend_of_the_update_a_code_already_made_is_done_not_failed(adapter, sandbox):
    # The worker's first try was answered, then it died before the card was settled: the resend must
    # not end the row failed (the card shows it already) nor spend another call.
    result = adapter.send_card("zhangsan", card())
    adapter.update_card(["zhangsan"], result["response_code"], replace_name="已由 张三 于 10:42 同意")
    calls = stats(sandbox)["message/update_template_card"]
    adapter.update_card(["zhangsan"], result["response_code"], replace_name="已由 张三 于 10:42 同意")
    assert stats(sandbox)["message/update_template_card"] == calls
    [message] = received(sandbox, "zhangsan")
    assert message["state"]["replace_name"] == "已由 张三 于 10:42 同意"


def _outcome(task_id: str, url: str | None = "http://127.0.0.1/p/HW-1"):
    from cards.card import Card
    return Card(kind="outcome", task_id=task_id, title="已由 李四 于 10:45 批准", subtitle="", fields=(), buttons=(),
                url=url or "", notice="可以开始作业")


@pytest.mark.parametrize("spent_by", ["another update", "wecom"])
def test_an_update_whose_code_is_spent_reaches_the_person_as_a_card_of_its_own(make_adapter, sandbox, key_prefix,
                                                                              spent_by):
    from bot.wecom_channel import WeComChannel
    sent = card()
    result = make_adapter(api_base=sandbox).send_card("zhangsan", sent)
    make_adapter(api_base=sandbox).update_card(["zhangsan"], result["response_code"], replace_name="已同意")
    # "wecom": an adapter without our record of the code, so it is WeCom that refuses it (42022),
    # as after an update whose answer was lost, or a code past its 72 h.
    prefix = key_prefix if spent_by == "another update" else key_prefix + ":other"
    channel = WeComChannel(make_adapter(api_base=sandbox, key_prefix=prefix))
    for _ in range(2):   # a resend of the fallback is still one card
        channel.update_card("zhangsan", _outcome(sent["task_id"]), token=result["response_code"])
    clicked, fallback = received(sandbox, "zhangsan")
    assert clicked["state"]["replace_name"] == "已同意"
    assert fallback["content"]["main_title"]["title"] == "已由 李四 于 10:45 批准"
    assert fallback["content"]["task_id"].startswith(sent["task_id"] + "-u")


def test_an_update_without_a_link_whose_code_is_spent_arrives_as_text(make_adapter, sandbox):
    from bot.wecom_channel import WeComChannel
    adapter = make_adapter(api_base=sandbox)
    sent = card()
    result = adapter.send_card("zhangsan", sent)
    adapter.update_card(["zhangsan"], result["response_code"], replace_name="已同意")
    WeComChannel(adapter).update_card("zhangsan", _outcome(sent["task_id"], url=None), token=result["response_code"])
    text = received(sandbox, "zhangsan")[-1]
    assert text["msgtype"] == "text" and "已由 李四 于 10:45 批准" in text["content"]["content"]


def test_the_platform_refuses_a_reused_response_code_too(make_adapter, sandbox, redis_conn, key_prefix):
    result = make_adapter(api_base=sandbox).send_card("zhangsan", card())
    make_adapter(api_base=sandbox).update_card(["zhangsan"], result["response_code"], replace_name="已同意")
    # An adapter with another Redis prefix has no local record, so the sandbox is the one to refuse.
    other = make_adapter(api_base=sandbox, key_prefix=key_prefix + ":other")
    with pytest.raises(PlatformError) as failed:
        other.update_card(["zhangsan"], result["response_code"], replace_name="again")
    assert (failed.value.code, failed.value.retryable) == (42022, False)


def test_a_whole_card_can_replace_the_clicked_one(adapter, sandbox):
    result = adapter.send_card("zhangsan", card())
    new = {"card_type": "text_notice", "main_title": {"title": "已驳回"},
           "card_action": {"type": 1, "url": "http://127.0.0.1/p/HW-1"}}
    adapter.update_card(["zhangsan"], result["response_code"], card=new)
    [message] = received(sandbox, "zhangsan")
    assert message["state"]["card"]["main_title"]["title"] == "已驳回"
    with pytest.raises(ValueError):
        adapter.update_card(["zhangsan"], "rc", card=new, replace_name="x")


def test_a_file_is_uploaded_sent_and_downloadable_under_api_base(adapter, sandbox):
    data = "作业票台账\n".encode() + bytes(range(256)) * 10
    result = adapter.send_file("zhangsan", "台账 2026-11.xlsx", data)
    [message] = received(sandbox, "zhangsan")
    assert message["msgtype"] == "file" and message["content"]["media_id"] == result["media_id"]
    # media/get goes to api_base: the real host would be refused by the loopback-only guard.
    assert adapter.fetch_media(result["media_id"]) == data
    assert stats(sandbox)["media/get"] == 1


def test_fetching_unknown_media_is_a_final_error(adapter):
    with pytest.raises(PlatformError) as failed:
        adapter.fetch_media("no-such-media")
    assert (failed.value.code, failed.value.retryable) == (40007, False)


def test_fetching_media_with_a_revoked_token_refreshes_it(adapter, sandbox):
    media_id = adapter.send_file("zhangsan", "a.txt", b"hello world")["media_id"]
    fault(sandbox, revoke_tokens=True)
    assert adapter.fetch_media(media_id) == b"hello world"
    assert stats(sandbox)["gettoken"] == 2


def test_an_oauth_code_resolves_to_the_member_once(adapter, sandbox):
    code = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "lisi"})["code"]
    assert adapter.user_from_oauth_code(code) == "lisi"
    with pytest.raises(PlatformError) as failed:
        adapter.user_from_oauth_code(code)  # single-use
    assert (failed.value.code, failed.value.retryable) == (40029, False)
    assert stats(sandbox)["auth/getuserinfo"] == 2


def test_an_oauth_code_of_a_non_member_is_refused(adapter, sandbox):
    code = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "outsider"})["code"]
    with pytest.raises(PlatformError) as failed:
        adapter.user_from_oauth_code(code)
    assert (failed.value.code, failed.value.retryable) == ("not_member", False)


def test_the_31st_send_to_a_member_in_a_minute_waits_instead_of_being_dropped(adapter, sandbox):
    for i in range(30):
        adapter.send_text("zhangsan", f"第 {i + 1} 条")
    with pytest.raises(RateLimited) as limited:
        adapter.send_card("zhangsan", card())
    assert 0 < limited.value.retry_after <= 60 and limited.value.retryable
    adapter.send_text("lisi", "another member still gets through")
    assert len(received(sandbox, "zhangsan")) == 30 and stats(sandbox)["message/send"] == 31
    assert admin(sandbox, "GET", "/sandbox/dropped") == []


def test_a_rate_limited_file_is_not_even_uploaded(make_adapter, sandbox):
    adapter = make_adapter(api_base=sandbox, member_limits=[(1, 60.0)])
    adapter.send_text("zhangsan", "一")
    with pytest.raises(RateLimited):
        adapter.send_file("zhangsan", "a.txt", b"hello world")
    assert "media/upload" not in stats(sandbox)


def test_every_call_including_gettoken_and_media_get_goes_to_api_base(adapter, sandbox, monkeypatch):
    urls = []
    real_send = requests.adapters.HTTPAdapter.send

    def recording(self, request, **kwargs):
        urls.append(request.url)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording)
    media_id = adapter.send_file("zhangsan", "a.txt", b"hello world")["media_id"]
    fault(sandbox, revoke_tokens=True)
    adapter.fetch_media(media_id)
    adapter.update_card(["zhangsan"], adapter.send_card("zhangsan", card())["response_code"], replace_name="ok")
    code = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "lisi"})["code"]
    adapter.user_from_oauth_code(code)
    paths = {u.split("?")[0].removeprefix(sandbox) for u in urls if not u.startswith(sandbox + "/sandbox/")}
    assert paths == {"/cgi-bin/gettoken", "/cgi-bin/media/upload", "/cgi-bin/message/send",
                     "/cgi-bin/media/get", "/cgi-bin/message/update_template_card", "/cgi-bin/auth/getuserinfo"}


def test_invalid_users_in_a_successful_answer_are_logged_and_returned(adapter, monkeypatch, caplog):
    # The sandbox cannot answer a one-recipient send with a partial failure, so the client answers here.
    answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "zhangsan", "msgid": "m1", "response_code": "rc"}
    monkeypatch.setattr(adapter.client.message, "send", lambda *a, **k: answer)
    assert adapter.send_card("zhangsan", card())["invaliduser"] == "zhangsan"
    assert "invaliduser=zhangsan" in caplog.text
