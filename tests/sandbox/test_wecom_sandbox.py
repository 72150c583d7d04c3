"""The WeCom sandbox, driven by the real wechatpy client over loopback HTTP, posting to a real receiver."""
from __future__ import annotations

import io
import time

import pytest
import requests
import xmltodict
from flask import Flask, request
from wechatpy.enterprise import WeChatClient, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import APILimitedException, WeChatClientException

from sandbox.wecom import create_wecom_sandbox, run_in_thread, verify_callback_url

CORP, SECRET, AGENT = "ww0123456789abcdef", "sandbox-secret", 1000002
TOKEN, AES_KEY = "sandboxtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MEMBERS = ["zhangsan", "lisi", "wangwu"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Clock:
    """The platform's clock: real time plus an offset the test moves."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Receiver:
    """A tiny app behind the callback URL: decrypts with wechatpy and records what arrived."""

    def __init__(self):
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
        self.received: list[dict] = []
        self.status, self.reply, self.echo = 200, None, "exact"
        app = Flask("receiver")

        @app.get("/wecom/callback")
        def url_check():
            a = request.args
            plain = self.crypto.check_signature(a["msg_signature"], a["timestamp"], a["nonce"], a["echostr"])
            if self.echo == "slow":
                time.sleep(1.3)
            return f'"{plain}"\n' if self.echo == "quoted" else plain

        @app.post("/wecom/callback")
        def event():
            a = request.args
            plain = self.crypto.decrypt_message(request.data, a["msg_signature"], a["timestamp"], a["nonce"])
            msg = xmltodict.parse(plain)["xml"]
            self.received.append({"args": dict(a), "raw": request.data, "xml": plain, "msg": msg})
            if self.status != 200:
                return "busy", self.status
            if self.reply is None:
                return ""
            answer = self.reply(msg)
            return self.crypto.encrypt_message(answer, "4242", a["timestamp"]) if answer.startswith("<xml>") else answer

        self.base, self.stop = run_in_thread(app)
        self.url = self.base + "/wecom/callback"


class SandboxClient(WeChatClient):
    """wechatpy's client with gettoken pointed at the sandbox too (it hard-codes the platform host)."""

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.API_BASE_URL + "gettoken",
                                        params={"corpid": self.corp_id, "corpsecret": self.secret})


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sandbox(receiver, clock):
    app = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN, aes_key=AES_KEY,
                               callback_url=receiver.url, users=MEMBERS)
    app.config["SANDBOX_NOW"] = clock
    base, stop = run_in_thread(app)
    yield base
    stop()


@pytest.fixture
def client(sandbox):
    c = SandboxClient(CORP, SECRET, auto_retry=False, timeout=10)
    c.API_BASE_URL = sandbox + "/cgi-bin/"
    return c


def admin(sandbox, method, path, **kwargs):
    answer = requests.request(method, sandbox + path, timeout=10, **kwargs)
    return answer.status_code, answer.json()


def inbox(sandbox, user):
    return admin(sandbox, "GET", "/sandbox/messages", params={"user": user})[1]


def errcode_of(call) -> int:
    with pytest.raises(WeChatClientException) as caught:
        call()
    return caught.value.errcode


# -- cards that pass --------------------------------------------------------------------------------
def button_card(task_id="permit42-s3-v1", **over):
    card = {"card_type": "button_interaction", "main_title": {"title": "动火作业 #42", "desc": "气体分析"},
            "horizontal_content_list": [{"keyname": "地点", "value": "3#罐区"}], "task_id": task_id,
            "button_list": [{"text": "同意", "style": 1, "key": "approve"}, {"text": "驳回", "style": 2, "key": "reject"}]}
    return {**card, **over}


def vote_card(task_id="permit42-jsa", **over):
    card = {"card_type": "vote_interaction", "main_title": {"title": "JSA"}, "task_id": task_id,
            "checkbox": {"question_key": "jsa", "mode": 1,
                         "option_list": [{"id": f"i{n}", "text": f"措施{n}"} for n in range(3)]},
            "submit_button": {"text": "提交", "key": "submit"}}
    return {**card, **over}


def multiple_card(task_id="permit42-multi", **over):
    card = {"card_type": "multiple_interaction", "main_title": {"title": "确认"}, "task_id": task_id,
            "select_list": [{"question_key": "q1", "title": "防火", "selected_id": "b",
                             "option_list": [{"id": "a", "text": "否"}, {"id": "b", "text": "是"}]},
                            {"question_key": "q2", "option_list": [{"id": "x", "text": "已确认"}]}],
            "submit_button": {"text": "提交", "key": "submit"}}
    return {**card, **over}


def notice_card(**over):
    card = {"card_type": "text_notice", "main_title": {"title": "知会"},
            "card_action": {"type": 1, "url": "https://example.invalid/p/42"}}
    return {**card, **over}


def send_card(client, card, users=("zhangsan",)):
    return client.message.send(AGENT, list(users), msg={"msgtype": "template_card", "template_card": card})


# -- token ------------------------------------------------------------------------------------------
def test_gettoken_issues_one_token_and_counts_calls(sandbox, client, clock):
    token = client.access_token
    assert client.access_token == token  # wechatpy caches it
    status, stats = admin(sandbox, "GET", "/sandbox/stats")
    assert stats["gettoken"] == 1
    again = requests.get(sandbox + "/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET}).json()
    assert again["access_token"] == token and 0 < again["expires_in"] <= 7200
    clock.advance(7201)
    fresh = requests.get(sandbox + "/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET}).json()
    assert fresh["errcode"] == 0 and fresh["access_token"] != token and fresh["expires_in"] == 7200
    assert admin(sandbox, "GET", "/sandbox/stats")[1]["gettoken"] == 3


@pytest.mark.parametrize("params, errcode", [
    ({"corpid": "wrong", "corpsecret": SECRET}, 40013),
    ({"corpid": CORP, "corpsecret": "wrong"}, 40001),
    ({"corpsecret": SECRET}, 41002),
    ({"corpid": CORP}, 41004),
])
def test_gettoken_refuses_bad_credentials(sandbox, params, errcode):
    answer = requests.get(sandbox + "/cgi-bin/gettoken", params=params).json()
    assert answer["errcode"] == errcode and "access_token" not in answer


def test_calls_need_a_live_token(sandbox, client, clock):
    body = {"touser": "zhangsan", "agentid": AGENT, "msgtype": "text", "text": {"content": "hi"}}
    url = sandbox + "/cgi-bin/message/send"
    assert requests.post(url, json=body).json()["errcode"] == 41001
    assert requests.post(url, params={"access_token": "nope"}, json=body).json()["errcode"] == 40014
    client.message.send_text(AGENT, "zhangsan", "hi")
    clock.advance(7200)
    assert errcode_of(lambda: client.message.send_text(AGENT, "zhangsan", "hi")) == 42001
    assert len(inbox(sandbox, "zhangsan")) == 1


# -- message/send -----------------------------------------------------------------------------------
def test_button_card_reaches_each_recipient(sandbox, client):
    answer = send_card(client, button_card(), users=("zhangsan", "lisi"))
    assert answer["errcode"] == 0 and answer["msgid"] and answer["response_code"]
    for user in ("zhangsan", "lisi"):
        [message] = inbox(sandbox, user)
        assert message["msgid"] == answer["msgid"] and message["task_id"] == "permit42-s3-v1"
        assert message["card"] == button_card() and message["state"]["card"] == button_card()
        assert message["state"]["interactive"] and message["response_code"] == answer["response_code"]
    assert inbox(sandbox, "wangwu") == []


@pytest.mark.parametrize("card", [
    button_card(button_list=[{"text": f"b{n}", "key": f"k{n}", "style": 1 + n % 4} for n in range(6)]),
    button_card(button_list=[{"text": "k", "key": "k" * 1024}, {"text": "看详情", "type": 1, "url": "https://x.invalid"}]),
    button_card(task_id="A-z_9@" + "x" * 122),
    vote_card(checkbox={"question_key": "q", "mode": 0, "option_list": [{"id": str(n), "text": "t"} for n in range(20)]}),
    multiple_card(select_list=[{"question_key": f"q{s}", "option_list": [{"id": str(n), "text": "t"} for n in range(10)]}
                               for s in range(3)]),
    notice_card(),
    notice_card(main_title={}, sub_title_text="只有副标题"),
    notice_card(task_id="menu-1", action_menu={"desc": "更多", "action_list": [{"text": "不再提醒", "key": "mute"}]}),
], ids=["6-buttons", "1024-byte-key", "128-byte-task-id", "20-options", "3x10-selects", "notice", "notice-subtitle",
        "notice-menu"])
def test_valid_cards_are_accepted(sandbox, client, card):
    assert send_card(client, card)["errcode"] == 0
    assert inbox(sandbox, "zhangsan")[0]["card"] == card


def _without(card, *path):
    card = {k: (dict(v) if isinstance(v, dict) else v) for k, v in card.items()}
    target = card
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return card


@pytest.mark.parametrize("card, errcode", [
    pytest.param(_without(button_card(), "task_id"), 42014, id="button-without-task_id"),
    pytest.param(button_card(task_id="has space"), 42014, id="task_id-bad-character"),
    pytest.param(button_card(task_id="x" * 129), 42014, id="task_id-129-bytes"),
    pytest.param(button_card(task_id=""), 42014, id="task_id-empty"),
    pytest.param(_without(button_card(), "button_list"), 40058, id="button_list-missing"),
    pytest.param(button_card(button_list=[]), 40058, id="button_list-empty"),
    pytest.param(button_card(button_list=[{"text": f"b{n}", "key": f"k{n}"} for n in range(7)]), 40058,
                 id="7-buttons"),
    pytest.param(button_card(button_list=[{"text": "a", "key": "same"}, {"text": "b", "key": "same"}]), 40058,
                 id="duplicate-keys"),
    pytest.param(button_card(button_list=[{"text": "a", "key": "k" * 1025}]), 40058, id="key-1025-bytes"),
    pytest.param(button_card(button_list=[{"text": "a", "key": "k", "style": 5}]), 40058, id="style-5"),
    pytest.param(button_card(button_list=[{"text": "a", "key": "k", "style": 0}]), 40058, id="style-0"),
    pytest.param(button_card(button_list=[{"text": "a"}]), 40058, id="callback-button-without-key"),
    pytest.param(_without(button_card(), "main_title"), 40058, id="button-without-main_title"),
    pytest.param(_without(vote_card(), "task_id"), 42014, id="vote-without-task_id"),
    pytest.param(_without(vote_card(), "checkbox"), 40058, id="vote-without-checkbox"),
    pytest.param(_without(vote_card(), "checkbox", "question_key"), 40058, id="checkbox-without-question_key"),
    pytest.param(vote_card(checkbox={"question_key": "q", "option_list": [{"id": str(n), "text": "t"}
                                                                          for n in range(21)]}),
                 40058, id="21-options"),
    pytest.param(vote_card(checkbox={"question_key": "q", "mode": 2, "option_list": [{"id": "a", "text": "t"}]}),
                 40058, id="mode-2"),
    pytest.param(vote_card(checkbox={"question_key": "q", "option_list": [{"id": "a", "text": "t"},
                                                                          {"id": "a", "text": "u"}]}),
                 40058, id="duplicate-option-ids"),
    pytest.param(_without(vote_card(), "submit_button"), 40058, id="vote-without-submit_button"),
    pytest.param(_without(multiple_card(), "task_id"), 42014, id="multiple-without-task_id"),
    pytest.param(multiple_card(select_list=[{"question_key": f"q{s}", "option_list": [{"id": "a", "text": "t"}]}
                                            for s in range(4)]), 40058, id="4-selectors"),
    pytest.param(multiple_card(select_list=[{"question_key": "q", "option_list": [{"id": str(n), "text": "t"}
                                                                                  for n in range(11)]}]),
                 40058, id="11-options-in-a-selector"),
    pytest.param(_without(multiple_card(), "submit_button"), 40058, id="multiple-without-submit_button"),
    pytest.param(_without(notice_card(), "card_action"), 40058, id="notice-without-card_action"),
    pytest.param(notice_card(card_action={"type": 1}), 40058, id="url-action-without-url"),
    pytest.param(notice_card(main_title={}), 40058, id="notice-without-any-title"),
    pytest.param(notice_card(action_menu={"action_list": [{"text": "x", "key": "y"}]}), 42014,
                 id="action_menu-without-task_id"),
    pytest.param({"card_type": "mystery", "task_id": "t"}, 40058, id="unknown-card_type"),
])
def test_field_rules_are_enforced(sandbox, client, card, errcode):
    assert errcode_of(lambda: send_card(client, card)) == errcode
    assert inbox(sandbox, "zhangsan") == []


@pytest.mark.parametrize("body, errcode", [
    ({"msgtype": "text", "text": {"content": ""}}, 44004),
    ({"msgtype": "text", "text": {"content": "字" * 683}}, 45002),
    ({"msgtype": "voice_memo", "voice_memo": {}}, 40008),
    ({"msgtype": "file", "file": {"media_id": "unknown"}}, 40007),
    ({"msgtype": "image", "image": {}}, 41006),
    ({"msgtype": "text", "text": {"content": "hi"}, "agentid": 99}, 40056),
    ({"msgtype": "text", "text": {"content": "hi"}, "agentid": None}, 41011),
    ({"msgtype": "text", "text": {"content": "hi"}, "touser": ""}, 82001),
])
def test_message_rules_are_enforced(sandbox, client, body, errcode):
    full = {"touser": "zhangsan", "agentid": AGENT, **body}
    assert errcode_of(lambda: client.post("message/send", data=full)) == errcode


def test_task_id_is_single_use_per_app(sandbox, client):
    send_card(client, button_card(task_id="once"))
    assert errcode_of(lambda: send_card(client, vote_card(task_id="once"), users=("lisi",))) == 42014
    assert inbox(sandbox, "lisi") == []


def test_recipients_must_exist(sandbox, client):
    with pytest.raises(WeChatClientException) as caught:
        send_card(client, button_card(), users=("ghost", "nobody"))
    assert caught.value.errcode == 81013
    assert errcode_of(lambda: send_card(client, button_card(task_id="t2"), users=("ghost",))) == 81013
    answer = send_card(client, button_card(task_id="t3"), users=("ZhangSan", "Ghost"))
    assert answer["errcode"] == 0 and answer["invaliduser"] == "ghost"
    assert [m["task_id"] for m in inbox(sandbox, "zhangsan")] == ["t3"]


def test_interactive_cards_need_a_callback_url(sandbox, client):
    admin(sandbox, "POST", "/sandbox/config", json={"callback_url": None})
    assert errcode_of(lambda: send_card(client, button_card())) == 43012
    assert send_card(client, notice_card())["errcode"] == 0


# -- per-member limits ------------------------------------------------------------------------------
def test_31st_message_in_a_minute_is_dropped_silently(sandbox, client, clock):
    answers = [client.message.send_text(AGENT, "zhangsan", f"第{n}条") for n in range(31)]
    client.message.send_text(AGENT, "lisi", "not limited")
    assert all(a["errcode"] == 0 for a in answers)
    assert len(inbox(sandbox, "zhangsan")) == 30 and len(inbox(sandbox, "lisi")) == 1
    [dropped] = admin(sandbox, "GET", "/sandbox/dropped")[1]
    assert dropped["user"] == "zhangsan" and dropped["msgid"] == answers[30]["msgid"] and "30/min" in dropped["reason"]
    clock.advance(30)
    client.message.send_text(AGENT, "zhangsan", "still blocked")
    clock.advance(31)
    client.message.send_text(AGENT, "zhangsan", "through again")
    assert len(admin(sandbox, "GET", "/sandbox/dropped")[1]) == 2
    assert inbox(sandbox, "zhangsan")[-1]["content"]["content"] == "through again"


def test_1001st_message_in_an_hour_is_dropped_silently(sandbox, client, clock):
    session, token = requests.Session(), client.access_token
    body = {"touser": "wangwu", "agentid": AGENT, "msgtype": "text", "text": {"content": "x"}}
    for n in range(1001):
        if n and n % 30 == 0:
            clock.advance(61)
        answer = session.post(sandbox + "/cgi-bin/message/send", params={"access_token": token}, json=body).json()
        assert answer["errcode"] == 0
    assert len(inbox(sandbox, "wangwu")) == 1000
    [dropped] = admin(sandbox, "GET", "/sandbox/dropped")[1]
    assert "1000/h" in dropped["reason"]


# -- message/update_template_card -------------------------------------------------------------------
def update(client, code, users=("zhangsan",), **change):
    change = change or {"button": {"replace_name": "已由 张三 同意"}}
    return client.post("message/update_template_card",
                       data={"userids": list(users), "agentid": AGENT, "response_code": code, **change})


def test_response_code_updates_once(sandbox, client):
    code = send_card(client, button_card(), users=("zhangsan", "lisi"))["response_code"]
    assert update(client, code, users=("zhangsan", "lisi"))["errcode"] == 0
    assert errcode_of(lambda: update(client, code)) == 42022
    for user in ("zhangsan", "lisi"):
        [message] = inbox(sandbox, user)
        assert message["state"]["replace_name"] == "已由 张三 同意" and not message["state"]["interactive"]
        assert message["card"] == button_card() and len(message["updates"]) == 1


def test_response_code_expires_after_72_hours(sandbox, client, clock):
    code = send_card(client, button_card())["response_code"]
    clock.advance(72 * 3600 + 1)
    client.fetch_access_token()  # the token died long before the code
    assert errcode_of(lambda: update(client, code)) == 42022
    assert inbox(sandbox, "zhangsan")[0]["state"]["replace_name"] is None
    fresh = send_card(client, button_card(task_id="later"))["response_code"]
    clock.advance(72 * 3600 - 10)
    client.fetch_access_token()
    assert update(client, fresh)["errcode"] == 0


def test_update_checks_code_and_targets(sandbox, client):
    code = send_card(client, button_card(), users=("zhangsan", "lisi"))["response_code"]
    assert errcode_of(lambda: update(client, "never-issued")) == 40058
    assert errcode_of(lambda: update(client, code, users=("wangwu",))) == 81013
    assert errcode_of(lambda: update(client, code, button={})) == 40058
    assert errcode_of(lambda: update(client, code, template_card=button_card(button_list=[]))) == 40058
    answer = client.post("message/update_template_card", data={
        "atall": 1, "agentid": AGENT, "response_code": code,
        "template_card": notice_card(main_title={"title": "已关闭"})})
    assert answer["errcode"] == 0  # refused calls did not consume the code
    for user in ("zhangsan", "lisi"):
        state = inbox(sandbox, user)[0]["state"]
        assert state["card"]["main_title"]["title"] == "已关闭" and not state["interactive"]


# -- media, OAuth -----------------------------------------------------------------------------------
def test_media_round_trip(sandbox, client, clock):
    upload = io.BytesIO(PNG)
    upload.name = "extinguisher.png"
    stored = client.media.upload("image", upload)
    assert stored["errcode"] == 0 and stored["type"] == "image" and stored["media_id"]
    got = client.get("media/get", params={"media_id": stored["media_id"]})
    assert got.content == PNG and got.headers["Content-Type"] == "image/png"
    assert client.message.send_image(AGENT, "zhangsan", stored["media_id"])["errcode"] == 0
    assert errcode_of(lambda: client.get("media/get", params={"media_id": "unknown"})) == 40007
    clock.advance(3 * 86400 + 1)
    client.fetch_access_token()
    assert errcode_of(lambda: client.get("media/get", params={"media_id": stored["media_id"]})) == 40007


@pytest.mark.parametrize("mtype, data, errcode", [
    ("image", b"GIF89a-not-allowed", 40004), ("sticker", PNG, 40005), ("file", b"abc", 40006)])
def test_media_upload_rules(sandbox, client, mtype, data, errcode):
    assert errcode_of(lambda: client.media.upload(mtype, io.BytesIO(data))) == errcode


def test_oauth_code_is_single_use(sandbox, client, clock):
    code = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "lisi"})[1]["code"]
    assert client.get("auth/getuserinfo", params={"code": code})["userid"] == "lisi"
    assert errcode_of(lambda: client.get("auth/getuserinfo", params={"code": code})) == 40029
    late = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "lisi"})[1]["code"]
    clock.advance(301)
    assert errcode_of(lambda: client.get("auth/getuserinfo", params={"code": late})) == 40029
    stranger = admin(sandbox, "POST", "/sandbox/oauth/code", json={"userid": "visitor"})[1]["code"]
    answer = client.get("auth/getuserinfo", params={"code": stranger})
    assert "userid" not in answer and answer["openid"]


# -- faults -----------------------------------------------------------------------------------------
def test_fault_for_the_next_calls(sandbox, client):
    client.access_token
    admin(sandbox, "POST", "/sandbox/faults", json={"api": "message/send", "errcode": 45009, "times": 2})
    for _ in range(2):
        with pytest.raises(APILimitedException):
            client.message.send_text(AGENT, "zhangsan", "busy")
    assert client.message.send_text(AGENT, "zhangsan", "ok")["errcode"] == 0
    assert [m["content"]["content"] for m in inbox(sandbox, "zhangsan")] == ["ok"]
    assert admin(sandbox, "GET", "/sandbox/stats")[1]["message/send"] == 3


def _outcomes(client, n):
    out = []
    for _ in range(n):
        try:
            client.message.send_text(AGENT, "lisi", "x")
            out.append(0)
        except WeChatClientException as exc:
            out.append(exc.errcode)
    return out


def test_random_faults_follow_the_seed(sandbox, client, clock):
    client.access_token
    fault = {"api": "message/send", "rate": 0.3, "errcodes": [-1, 45009], "seed": 7}
    admin(sandbox, "POST", "/sandbox/faults", json=fault)
    first = _outcomes(client, 40)
    admin(sandbox, "DELETE", "/sandbox/faults")
    admin(sandbox, "POST", "/sandbox/faults", json=fault)
    clock.advance(3600)
    assert _outcomes(client, 40) == first
    assert set(first) <= {0, -1, 45009} and 0 < first.count(0) < 40
    delivered = len(inbox(sandbox, "lisi")) + len(admin(sandbox, "GET", "/sandbox/dropped")[1])
    assert delivered == 2 * first.count(0)


def test_revoked_tokens_get_42001_until_refreshed(sandbox, client):
    old = client.access_token
    admin(sandbox, "POST", "/sandbox/faults", json={"revoke_tokens": True})
    assert errcode_of(lambda: client.message.send_text(AGENT, "zhangsan", "x")) == 42001
    client.fetch_access_token()
    assert client.access_token != old
    assert client.message.send_text(AGENT, "zhangsan", "x")["errcode"] == 0


def test_slow_answers(sandbox, client):
    admin(sandbox, "POST", "/sandbox/faults", json={"api": "gettoken", "delay": 0.4})
    started = time.monotonic()
    client.fetch_access_token()
    assert time.monotonic() - started >= 0.4
    assert admin(sandbox, "GET", "/sandbox/faults")[1]["faults"][0]["delay"] == 0.4
    admin(sandbox, "DELETE", "/sandbox/faults")
    assert admin(sandbox, "GET", "/sandbox/faults")[1]["faults"] == []


# -- acting as a member: callbacks to the app -------------------------------------------------------
def click(sandbox, **body):
    return admin(sandbox, "POST", "/sandbox/click", json=body)


def test_click_posts_an_encrypted_template_card_event(sandbox, client, receiver):
    sent = send_card(client, button_card(), users=("zhangsan", "lisi"))
    status, answer = click(sandbox, user="lisi", task_id="permit42-s3-v1", key="approve")
    assert status == 200 and answer["status"] == 200 and len(answer["attempts"]) == 1
    [got] = receiver.received
    assert set(got["args"]) == {"msg_signature", "timestamp", "nonce"}
    outer = xmltodict.parse(got["raw"])["xml"]
    assert outer["ToUserName"] == CORP and outer["AgentID"] == str(AGENT) and outer["Encrypt"]
    msg = got["msg"]
    assert msg["ToUserName"] == CORP and msg["FromUserName"] == "lisi" and msg["MsgType"] == "event"
    assert msg["Event"] == "template_card_event" and msg["EventKey"] == "approve"
    assert msg["TaskId"] == "permit42-s3-v1" and msg["CardType"] == "button_interaction"
    assert msg["AgentID"] == str(AGENT) and int(msg["CreateTime"]) == pytest.approx(time.time(), abs=60)
    assert msg["ResponseCode"] == answer["response_code"] != sent["response_code"]
    assert type(parse_message(got["xml"])).__name__ == "UnknownMessage"  # wechatpy knows no card events
    assert update(client, msg["ResponseCode"], users=("lisi",))["errcode"] == 0
    assert errcode_of(lambda: update(client, msg["ResponseCode"], users=("lisi",))) == 42022
    assert inbox(sandbox, "lisi")[0]["state"]["replace_name"] and inbox(sandbox, "zhangsan")[0]["state"]["interactive"]
    assert click(sandbox, user="lisi", task_id="permit42-s3-v1", key="approve")[0] == 400  # greyed out now


def test_click_carries_selected_items(sandbox, client, receiver):
    send_card(client, vote_card(), users=("wangwu",))
    send_card(client, multiple_card(), users=("wangwu",))
    click(sandbox, user="wangwu", task_id="permit42-jsa", key="submit", selected={"jsa": ["i0", "i2"]})
    click(sandbox, user="wangwu", task_id="permit42-multi", key="submit", selected={"q2": ["x"]})
    vote, multi = (r["msg"] for r in receiver.received)
    assert vote["CardType"] == "vote_interaction" and vote["EventKey"] == "submit"
    item = vote["SelectedItems"]["SelectedItem"]
    assert item["QuestionKey"] == "jsa" and item["OptionIds"]["OptionId"] == ["i0", "i2"]
    items = multi["SelectedItems"]["SelectedItem"]
    assert [(i["QuestionKey"], i["OptionIds"]["OptionId"]) for i in items] == [("q1", "b"), ("q2", "x")]


@pytest.mark.parametrize("body", [
    {"user": "zhangsan", "task_id": "never-sent", "key": "approve"},
    {"user": "wangwu", "task_id": "permit42-s3-v1", "key": "approve"},
    {"user": "zhangsan", "task_id": "permit42-s3-v1", "key": "not-on-card"},
    {"user": "zhangsan", "task_id": "permit42-s3-v1", "key": "details"},
    {"user": "ghost", "task_id": "permit42-s3-v1", "key": "approve"},
    {"user": "zhangsan", "task_id": "permit42-jsa", "key": "submit", "selected": {"jsa": ["nope"]}},
    {"user": "zhangsan", "task_id": "permit42-jsa", "key": "submit", "selected": {"other": ["i0"]}},
], ids=["unknown-task", "not-a-recipient", "unknown-key", "url-button", "non-member", "bad-option", "bad-question"])
def test_clicks_a_client_cannot_make_are_refused(sandbox, client, receiver, body):
    card = button_card(button_list=[{"text": "同意", "key": "approve"}, {"text": "详情", "type": 1, "url": "https://x.invalid", "key": "details"}])
    send_card(client, card)
    send_card(client, vote_card())
    status, answer = click(sandbox, **body)
    assert status == 400 and answer["error"]
    assert receiver.received == []


def test_action_menu_click_is_a_menu_event(sandbox, client, receiver):
    send_card(client, notice_card(task_id="fyi-42", action_menu={"desc": "更多",
                                                                 "action_list": [{"text": "不再提醒", "key": "mute"}]}))
    assert click(sandbox, user="zhangsan", task_id="fyi-42", key="mute")[1]["status"] == 200
    msg = receiver.received[0]["msg"]
    assert msg["Event"] == "template_card_menu_event" and msg["EventKey"] == "mute" and msg["CardType"] == "text_notice"


def test_passive_reply_updates_the_clickers_card(sandbox, client, receiver):
    send_card(client, button_card(), users=("zhangsan", "lisi"))
    receiver.reply = lambda msg: (
        f"<xml><ToUserName>{msg['FromUserName']}</ToUserName><FromUserName>{CORP}</FromUserName>"
        f"<CreateTime>{msg['CreateTime']}</CreateTime><MsgType>update_button</MsgType>"
        "<Button><ReplaceName>已同意</ReplaceName></Button></xml>")
    answer = click(sandbox, user="zhangsan", task_id="permit42-s3-v1", key="approve")[1]
    assert "<ReplaceName>已同意</ReplaceName>" in answer["reply"] and answer["reply_applied"] == "applied update_button"
    assert inbox(sandbox, "zhangsan")[0]["state"]["replace_name"] == "已同意"
    assert inbox(sandbox, "lisi")[0]["state"]["replace_name"] is None
    receiver.reply = lambda msg: "not encrypted"
    answer = click(sandbox, user="lisi", task_id="permit42-s3-v1", key="approve")[1]
    assert answer["reply"] is None and answer["reply_error"]


def test_failed_deliveries_are_retried_three_times(sandbox, client, receiver):
    send_card(client, button_card())
    receiver.status = 500
    answer = click(sandbox, user="zhangsan", task_id="permit42-s3-v1", key="approve")[1]
    assert [a["status"] for a in answer["attempts"]] == [500, 500, 500]
    assert len({r["raw"] for r in receiver.received}) == 1 and len(receiver.received) == 3
    receiver.status = 200
    answer = click(sandbox, user="zhangsan", task_id="permit42-s3-v1", key="reject", repeat=3)[1]
    assert [a["status"] for a in answer["attempts"]] == [200, 200, 200]
    assert len({r["msg"]["ResponseCode"] for r in receiver.received[3:]}) == 1


def test_text_message_reaches_the_app(sandbox, receiver):
    receiver.reply = lambda msg: (f"<xml><ToUserName>{msg['FromUserName']}</ToUserName><FromUserName>{CORP}"
                                  "</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
                                  "<Content>收到</Content></xml>")
    status, answer = admin(sandbox, "POST", "/sandbox/text", json={"user": "zhangsan", "content": "待办"})
    assert status == 200 and answer["status"] == 200
    msg = receiver.received[0]["msg"]
    assert msg["MsgType"] == "text" and msg["Content"] == "待办" and msg["FromUserName"] == "zhangsan"
    assert msg["MsgId"] == answer["msgid_sent"] and msg["AgentID"] == str(AGENT) and msg["ToUserName"] == CORP
    chat = admin(sandbox, "GET", "/sandbox/messages", params={"user": "zhangsan", "both": "1"})[1]
    assert [(m["direction"], m["content"]["content"]) for m in chat] == [("from_user", "待办"), ("to_user", "收到")]


def test_image_message_reaches_the_app(sandbox, client, receiver):
    status, answer = admin(sandbox, "POST", "/sandbox/image", data={"user": "lisi"},
                           files={"media": ("harness.png", PNG, "image/png")})
    assert status == 200 and answer["status"] == 200
    msg = receiver.received[0]["msg"]
    assert msg["MsgType"] == "image" and msg["MediaId"] == answer["media_id"] and msg["MsgId"]
    assert requests.get(msg["PicUrl"]).content == PNG
    assert client.get("media/get", params={"media_id": msg["MediaId"]}).content == PNG


def test_callback_url_check(sandbox, receiver):
    assert admin(sandbox, "POST", "/sandbox/verify")[1]["ok"] is True
    receiver.echo = "quoted"
    result = verify_callback_url(receiver.url, token=TOKEN, aes_key=AES_KEY, corp_id=CORP)
    assert result["ok"] is False and "expected exactly" in result["why"]
    receiver.echo = "slow"
    result = admin(sandbox, "POST", "/sandbox/verify")[1]
    assert result["ok"] is False and "over 1 s" in result["why"]
    wrong = verify_callback_url(receiver.url, token="other", aes_key=AES_KEY, corp_id=CORP)
    assert wrong["ok"] is False and wrong["status"] == 500


def test_duplicate_check_sends_the_same_text_once_within_the_interval():
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    import requests
    app = create_wecom_sandbox(corp_id="wwcorp", corp_secret="s", agent_id=1, token="t",
                               aes_key="a" * 43, users=["u1"])
    base, stop = run_in_thread(app)
    try:
        token = requests.get(f"{base}/cgi-bin/gettoken", params={"corpid": "wwcorp", "corpsecret": "s"}).json()["access_token"]
        body = {"touser": "u1", "agentid": 1, "msgtype": "text", "text": {"content": "帮助"},
                "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
        for _ in range(2):
            assert requests.post(f"{base}/cgi-bin/message/send", params={"access_token": token}, json=body).json()["errcode"] == 0
        assert len(requests.get(f"{base}/sandbox/messages", params={"user": "u1"}).json()) == 1
        body.pop("enable_duplicate_check")
        requests.post(f"{base}/cgi-bin/message/send", params={"access_token": token}, json=body)
        assert len(requests.get(f"{base}/sandbox/messages", params={"user": "u1"}).json()) == 2
    finally:
        stop()
