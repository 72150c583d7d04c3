"""The phone view: pages rendered from what the sandbox delivered, escaped, with the script that acts."""
from __future__ import annotations

import io
import re

import pytest
import requests
import xmltodict
from flask import Flask, request
from wechatpy.enterprise.crypto import WeChatCrypto

from sandbox.wecom import create_wecom_sandbox, run_in_thread

CORP, SECRET, AGENT = "ww0123456789abcdef", "sandbox-secret", 1000002
TOKEN, AES_KEY = "sandboxtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def receiver():
    """An app behind the callback URL that records decrypted events and answers with status."""
    crypto, got = WeChatCrypto(TOKEN, AES_KEY, CORP), []
    app = Flask("receiver")
    app.config["status"] = 200

    @app.post("/wecom/callback")
    def event():
        a = request.args
        got.append(xmltodict.parse(crypto.decrypt_message(request.data, a["msg_signature"], a["timestamp"],
                                                          a["nonce"]))["xml"])
        return "", app.config["status"]

    base, stop = run_in_thread(app)
    yield app, base + "/wecom/callback", got
    stop()


@pytest.fixture
def sandbox(receiver):
    return create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN, aes_key=AES_KEY,
                                callback_url=receiver[1], users=["zhangsan", "lisi"])


@pytest.fixture
def web(sandbox):
    return sandbox.test_client()


def api(web, path: str, body: dict) -> dict:
    token = web.get("/cgi-bin/gettoken", query_string={"corpid": CORP, "corpsecret": SECRET}).json["access_token"]
    answer = web.post(f"/cgi-bin/{path}", query_string={"access_token": token}, json={"agentid": AGENT, **body}).json
    assert answer["errcode"] == 0, answer
    return answer


def send_card(web, card: dict, user: str = "zhangsan") -> dict:
    return api(web, "message/send", {"touser": user, "msgtype": "template_card", "template_card": card})


def page(web, user: str = "zhangsan") -> str:
    answer = web.get(f"/phone/{user}")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    return answer.get_data(as_text=True)


def chat(web, user: str = "zhangsan") -> str:
    """The message list alone, as the page fetches it."""
    return web.get(f"/phone/{user}/chat").get_data(as_text=True)


def buttons(html: str) -> list[tuple[str, str]]:
    """Return (key, label) of every clickable card button."""
    return re.findall(r'<button type="button" class="btn[^"]*" data-key="([^"]*)">([^<]*)</button>', html)


def button_card(task_id="p42-s3", **over):
    return {"card_type": "button_interaction", "source": {"desc": "电子作业票"},
            "main_title": {"title": "动火作业 DH-42", "desc": "气体分析"}, "sub_title_text": "已签：张三",
            "horizontal_content_list": [{"keyname": "地点", "value": "3#罐区东侧"}], "task_id": task_id,
            "button_list": [{"text": "同意", "style": 1, "key": "approve"}, {"text": "驳回", "style": 2, "key": "reject"}],
            **over}


def vote_card(task_id="p42-jsa", mode=1):
    return {"card_type": "vote_interaction", "main_title": {"title": "安全措施确认"}, "task_id": task_id,
            "checkbox": {"question_key": "jsa", "mode": mode,
                         "option_list": [{"id": f"i{n}", "text": f"措施{n}"} for n in range(3)]},
            "submit_button": {"text": "提交", "key": "submit"}}


def notice_card(**over):
    return {"card_type": "text_notice", "main_title": {"title": "知会：DH-42 已批准"},
            "card_action": {"type": 1, "url": "http://127.0.0.1/p/DH-42"}, **over}


def test_index_lists_the_members_with_links(web):
    web.post("/sandbox/users", json={"users": ["zhangsan", "lisi"], "names": {"zhangsan": "张三"}})
    html = web.get("/phone").get_data(as_text=True)
    assert "选择一个人" in html
    assert 'href="/phone/zhangsan"' in html and 'href="/phone/lisi"' in html
    assert "张三" in html


def test_phone_page_names_the_user_and_carries_the_script(web):
    html = page(web)
    assert "<b>zhangsan</b>" in html and "还没有消息" in html
    script = html[html.index("<script>"):]
    for url in ("/sandbox/click", "/sandbox/text", "/sandbox/image", "/phone/zhangsan/chat",
                "/sandbox/messages?user=zhangsan\\u0026both=1"):
        assert url in script
    assert "setInterval(() => poll(false), 2000)" in script and "fetch(" in script
    assert 'type="file" accept="image/*"' in html and ">发送</button>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html  # offline: no external assets


def test_unknown_user_is_404(web):
    assert web.get("/phone/ghost").status_code == 404
    assert web.get("/phone/ghost/chat").status_code == 404
    assert "<img src=x" not in web.get("/phone/<img src=x onerror=alert(1)>").get_data(as_text=True)


def test_button_card_shows_title_rows_and_buttons(web):
    send_card(web, button_card())
    for html in (page(web), chat(web)):
        assert "动火作业 DH-42" in html and "气体分析" in html and "已签：张三" in html and "电子作业票" in html
        assert "<dt>地点</dt><dd>3#罐区东侧</dd>" in html
        assert buttons(html) == [("approve", "同意"), ("reject", "驳回")]
        assert 'data-task="p42-s3"' in html


def test_vote_card_shows_ticks_and_submit(web):
    send_card(web, vote_card())
    send_card(web, vote_card(task_id="p42-one", mode=0))
    html = chat(web)
    many, one = html.split('data-task="p42-one"')
    assert re.findall(r'type="checkbox" name="[^"]*"\s+data-q="jsa" value="(i\d)"', many) == ["i0", "i1", "i2"]
    assert len(re.findall(r'type="radio"', one)) == 3
    assert "措施0" in html and buttons(html) == [("submit", "提交"), ("submit", "提交")]


def test_text_notice_links_only_to_web_pages(web):
    send_card(web, notice_card())
    send_card(web, notice_card(card_action={"type": 1, "url": "javascript:alert(1)"},
                               jump_list=[{"type": 1, "title": "看板", "url": "JavaScript:alert(2)"}]))
    html = chat(web)
    assert 'href="http://127.0.0.1/p/DH-42"' in html and "查看详情" in html
    assert "javascript:" not in html.lower()
    assert buttons(html) == []


def test_stop_card_shows_its_emphasis(web):
    send_card(web, notice_card(source={"desc": "电子作业票", "desc_color": 2},
                               emphasis_content={"title": "立即停止作业", "desc": "撤离现场，等待通知"}))
    html = chat(web)
    assert 'class="card alarm"' in html and '<div class="source c2">' in html
    assert '<div class="emph-title">立即停止作业</div>' in html and "撤离现场，等待通知" in html


def test_a_card_updated_by_the_app_shows_its_current_state(web, receiver):
    sent = send_card(web, button_card())
    send_card(web, button_card(task_id="p42-s4"), user="lisi")
    api(web, "message/update_template_card", {"userids": ["zhangsan"], "response_code": sent["response_code"],
                                              "template_card": notice_card(main_title={"title": "已由 张三 于 10:42 同意"})})
    html = chat(web)
    assert "已由 张三 于 10:42 同意" in html and "动火作业 DH-42" not in html
    assert buttons(html) == [] and "卡片已更新" in html
    web.post("/sandbox/click", json={"user": "lisi", "task_id": "p42-s4", "key": "approve"})
    code = receiver[2][-1]["ResponseCode"]
    api(web, "message/update_template_card", {"userids": ["lisi"], "response_code": code,
                                              "button": {"replace_name": "已同意"}})
    html = chat(web, "lisi")
    assert buttons(html) == [] and '<span class="btn settled-btn">已同意</span>' in html
    assert 'class="card settled"' in html


def test_messages_run_oldest_first_both_ways_with_thumbnails(web, receiver):
    api(web, "message/send", {"touser": "zhangsan", "msgtype": "text", "text": {"content": "欢迎使用"}})
    assert web.post("/sandbox/text", json={"user": "zhangsan", "content": "待办"}).json["status"] == 200
    image = web.post("/sandbox/image", data={"user": "zhangsan", "media": (io.BytesIO(PNG), "a.png")})
    media_id = image.json["media_id"]
    send_card(web, button_card())
    html = chat(web)
    order = [html.index(s) for s in ("欢迎使用", "待办", f'src="/sandbox/media/{media_id}"', "动火作业 DH-42")]
    assert order == sorted(order)
    assert re.search(r'class="msg mine"[^>]*data-msgtype="text">\s*<div class="avatar">我</div><div class="bubble">待办',
                     html)
    assert web.get(f"/sandbox/media/{media_id}").data == PNG


def test_text_from_the_app_is_escaped_everywhere(web, receiver):
    attack = '"><img src=x onerror=alert(1)>'
    send_card(web, button_card(main_title={"title": EVIL, "desc": EVIL}, sub_title_text=EVIL,
                               horizontal_content_list=[{"keyname": EVIL, "value": EVIL}],
                               button_list=[{"text": EVIL, "key": attack}]))
    send_card(web, {**vote_card(), "checkbox": {"question_key": attack, "option_list": [{"id": attack, "text": EVIL}]}})
    api(web, "message/send", {"touser": "zhangsan", "msgtype": "text", "text": {"content": EVIL}})
    web.post("/sandbox/text", json={"user": "zhangsan", "content": attack})
    for html in (page(web), chat(web), web.get("/phone").get_data(as_text=True)):
        assert EVIL not in html and "<img src=x" not in html
    html = chat(web)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert buttons(html)[0] == ("&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;")


def test_the_page_acts_through_the_sandbox_over_http(sandbox, receiver):
    """Fetch the page over HTTP and make the calls its script makes; the app gets encrypted events."""
    app, _, got = receiver
    base, stop = run_in_thread(sandbox)
    try:
        api(sandbox.test_client(), "message/send", {"touser": "zhangsan", "msgtype": "template_card",
                                                    "template_card": vote_card()})
        html = requests.get(f"{base}/phone/zhangsan", timeout=10).text
        [(key, label)] = buttons(html)
        task = re.search(r'data-task="([^"]+)"', html).group(1)
        clicked = requests.post(f"{base}/sandbox/click", timeout=10, json={
            "user": "zhangsan", "task_id": task, "key": key, "selected": {"jsa": ["i0", "i2"]}}).json()
        assert clicked["status"] == 200
        assert got[-1]["EventKey"] == "submit" and got[-1]["SelectedItems"]["SelectedItem"]["OptionIds"]["OptionId"] \
            == ["i0", "i2"]
        app.config["status"] = 403
        said = requests.post(f"{base}/sandbox/text", timeout=10, json={"user": "zhangsan", "content": "帮助"}).json()
        assert said["status"] == 403  # the page shows this as 应用返回 403
        assert got[-1]["Content"] == "帮助"
        photo = requests.post(f"{base}/sandbox/image", timeout=10, data={"user": "zhangsan"},
                              files={"media": ("p.png", PNG, "image/png")}).json()
        assert got[-1]["MsgType"] == "image" and photo["media_id"] in requests.get(
            f"{base}/phone/zhangsan/chat", timeout=10).text
        polled = requests.get(f"{base}/sandbox/messages", params={"user": "zhangsan", "both": 1}, timeout=10).json()
        assert [m["direction"] for m in polled] == ["to_user", "from_user", "from_user"]
    finally:
        stop()


# -- 扫一扫 and the OAuth page a scanned link goes through -----------------------------------------

def authorize(web, **changes):
    args = {"appid": CORP, "redirect_uri": "https://permit.example.cn/board/DH-1?s=abc", "response_type": "code",
            "scope": "snsapi_base", "state": "0a1B2c", "agentid": str(AGENT), **changes}
    return web.get("/connect/oauth2/authorize", query_string={k: v for k, v in args.items() if v is not None})


def test_scanning_opens_what_the_code_holds_as_that_member(web):
    page = web.get("/phone/zhangsan/scan")
    assert page.status_code == 200 and "二维码内容" in page.get_data(as_text=True)
    opened = web.get("/phone/zhangsan/scan", query_string={"url": "https://permit.example.cn/board/DH-1?s=abc"})
    assert opened.status_code == 302 and opened.headers["Location"] == "https://permit.example.cn/board/DH-1?s=abc"
    assert "wecom_sandbox_user=zhangsan" in opened.headers["Set-Cookie"]
    assert web.get("/phone/zhangsan/scan", query_string={"url": "javascript:alert(1)"}).status_code == 400
    assert web.get("/phone/nobody/scan", query_string={"url": "https://x.cn/"}).status_code == 404
    assert "/phone/zhangsan/scan" in web.get("/phone/zhangsan").get_data(as_text=True)


def test_the_oauth_page_sends_the_scanning_member_back_with_a_one_time_code(sandbox, web):
    assert authorize(web).status_code == 403       # a browser the phone view did not open: not WeCom
    assert "请在企业微信客户端打开链接" in authorize(web).get_data(as_text=True)
    web.set_cookie("wecom_sandbox_user", "lisi")
    back = authorize(web)
    assert back.status_code == 302
    target, _, query = back.headers["Location"].partition("?s=abc&")
    assert target == "https://permit.example.cn/board/DH-1" and query.startswith("code=") and query.endswith("&state=0a1B2c")
    code = query.split("&")[0].removeprefix("code=")
    state = sandbox.extensions["wecom_sandbox"]
    assert state.oauth.resolve(code)["userid"] == "lisi"


@pytest.mark.parametrize("changes", [{"appid": "wwsomeoneelse"}, {"response_type": "token"},
                                     {"scope": "snsapi_userinfo"}, {"agentid": "1"}, {"redirect_uri": "ftp://x"},
                                     {"state": "not-alnum!"}, {"redirect_uri": None}])
def test_the_oauth_page_refuses_what_wecom_refuses(web, changes):
    web.set_cookie("wecom_sandbox_user", "lisi")
    assert authorize(web, **changes).status_code == 400
