"""WeCom callbacks made with wechatpy's real crypto: genuine ones become Events, the rest are refused."""
from __future__ import annotations

import hashlib
import logging
import queue
import re
import socket
import threading
import tracemalloc

import pytest
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.base import CallbackRejected
from tests.bot.conftest import AES_KEY, CORP_ID, TOKEN

NOW = 1_790_000_000


def signed(inner_xml: str, *, ts: int = NOW, nonce: str = "n0nce", token: str = TOKEN) -> tuple[dict, bytes]:
    """Return (query args, POST body) as WeCom would send them for this plaintext message."""
    reply = WeChatCrypto(token, AES_KEY, CORP_ID).encrypt_message(inner_xml, nonce, str(ts))
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", reply).group(1)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", reply).group(1)
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>" \
           f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return {"msg_signature": sig, "timestamp": str(ts), "nonce": nonce}, body.encode()


def message(msg_type: str, fields: str, *, user: str = "zhangsan", created: int = NOW) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{fields}"
            f"<AgentID>1000002</AgentID></xml>")


CLICK = message("event", "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[permit.approve:HW-1:s3]]>"
                "</EventKey><TaskId><![CDATA[permit42-s3-v1]]></TaskId><CardType><![CDATA[vote_interaction]]>"
                "</CardType><ResponseCode><![CDATA[RC-123]]></ResponseCode><SelectedItems>"
                "<SelectedItem><QuestionKey><![CDATA[q1]]></QuestionKey><OptionIds>"
                "<OptionId><![CDATA[o1]]></OptionId><OptionId><![CDATA[o3]]></OptionId></OptionIds></SelectedItem>"
                "<SelectedItem><QuestionKey><![CDATA[q2]]></QuestionKey><OptionIds>"
                "<OptionId><![CDATA[o7]]></OptionId></OptionIds></SelectedItem></SelectedItems>")


@pytest.fixture
def adapter(make_adapter):
    return make_adapter(clock=lambda: NOW + 10)


def test_a_card_click_becomes_a_click_event_with_every_ticked_option(adapter):
    event = adapter.parse_callback(*signed(CLICK))
    assert (event.platform, event.kind, event.user_id, event.created_at) == ("wecom", "click", "zhangsan", NOW)
    assert (event.key, event.task_id, event.response_code) == ("permit.approve:HW-1:s3", "permit42-s3-v1", "RC-123")
    assert event.selected == ("o1", "o3", "o7")
    assert event.raw["SelectedItems"][1] == {"QuestionKey": "q2", "OptionIds": ["o7"]}
    assert event.msg_id == ""


def test_a_button_click_without_selected_items_has_none(adapter):
    xml = CLICK.split("<SelectedItems>")[0] + "<AgentID>1000002</AgentID></xml>"
    event = adapter.parse_callback(*signed(xml))
    assert event.kind == "click" and event.selected == ()


def test_a_text_message_keeps_its_string_msg_id(adapter):
    xml = message("text", "<Content><![CDATA[待办]]></Content><MsgId>CAIQ8OWPqAYYgICAgMCLgAMgAQ==</MsgId>")
    event = adapter.parse_callback(*signed(xml))
    assert (event.kind, event.text, event.msg_id) == ("text", "待办", "CAIQ8OWPqAYYgICAgMCLgAMgAQ==")
    assert event.dedupe_key == "wecom:msg:CAIQ8OWPqAYYgICAgMCLgAMgAQ=="


def test_two_clicks_on_one_button_in_one_second_differ_and_a_retry_is_recognised(adapter):
    first = adapter.parse_callback(*signed(CLICK))
    retry = adapter.parse_callback(*signed(CLICK, ts=NOW + 5, nonce="retry"))   # the same message, posted again
    again = adapter.parse_callback(*signed(CLICK.replace("RC-123", "RC-124")))  # a second tap: a fresh code
    assert (again.user_id, again.task_id, again.key, again.created_at) == (
        first.user_id, first.task_id, first.key, first.created_at)
    assert retry.dedupe_key == first.dedupe_key and retry.dedupe_seconds == first.dedupe_seconds == 3600
    assert again.dedupe_key != first.dedupe_key


def test_a_card_event_without_a_response_code_is_keyed_on_its_whole_content(adapter):
    xml = CLICK.replace("<ResponseCode><![CDATA[RC-123]]></ResponseCode>", "")
    first, retry = adapter.parse_callback(*signed(xml)), adapter.parse_callback(*signed(xml, nonce="retry"))
    other = adapter.parse_callback(*signed(xml.replace("<OptionId><![CDATA[o7]]>", "<OptionId><![CDATA[o8]]>")))
    assert first.dedupe_key == retry.dedupe_key != other.dedupe_key
    assert first.dedupe_key.startswith("wecom:content:") and first.dedupe_seconds == 60


def test_an_image_message_carries_its_media_id(adapter):
    xml = message("image", "<PicUrl><![CDATA[http://p/x.jpg]]></PicUrl><MediaId><![CDATA[MEDIA-9]]></MediaId>"
                           "<MsgId>1234567890123456</MsgId>")
    event = adapter.parse_callback(*signed(xml))
    assert (event.kind, event.media_id, event.msg_id) == ("image", "MEDIA-9", "1234567890123456")


@pytest.mark.parametrize("fields", [
    "<Event><![CDATA[enter_agent]]></Event><EventKey><![CDATA[]]></EventKey>",
    "<Event><![CDATA[template_card_menu_event]]></Event><EventKey><![CDATA[m]]></EventKey>",
])
def test_an_unhandled_event_is_named_unknown(adapter, fields, caplog):
    caplog.set_level(logging.INFO, logger="bot.wecom_callback")
    event = adapter.parse_callback(*signed(message("event", fields)))
    assert event.kind == "unknown" and event.raw["MsgType"] == "event"
    assert "unhandled type event/" in caplog.text


def test_a_voice_message_is_unknown(adapter):
    event = adapter.parse_callback(*signed(message("voice", "<MediaId>v</MediaId><MsgId>5</MsgId>")))
    assert (event.kind, event.msg_id) == ("unknown", "5")


def test_a_bad_signature_is_refused_with_403(adapter):
    args, body = signed(CLICK)
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({**args, "msg_signature": "0" * 40}, body)
    assert rejected.value.status == 403


def test_a_callback_signed_with_another_token_is_refused(adapter):
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback(*signed(CLICK, token="not-our-token"))
    assert rejected.value.status == 403


def test_a_tampered_timestamp_breaks_the_signature(adapter):
    args, body = signed(CLICK)
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({**args, "timestamp": str(NOW + 1)}, body)
    assert rejected.value.status == 403


def test_missing_signature_parameters_are_refused(adapter):
    _, body = signed(CLICK)
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({}, body)
    assert rejected.value.status == 403


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_stale_timestamp_is_refused_with_403(make_adapter, age):
    adapter = make_adapter(clock=lambda: NOW + age)
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback(*signed(CLICK))
    assert rejected.value.status == 403 and "stale" in rejected.value.reason


def test_the_replay_window_is_configurable(make_adapter):
    assert make_adapter(clock=lambda: NOW + 299).parse_callback(*signed(CLICK)).kind == "click"
    with pytest.raises(CallbackRejected):
        make_adapter(clock=lambda: NOW + 61, replay_window=60).parse_callback(*signed(CLICK))


def test_an_oversized_body_is_refused_with_400_before_parsing(adapter):
    body = b"<xml><Encrypt>" + b"A" * (64 * 1024) + b"</Encrypt></xml>"
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({"msg_signature": "x", "timestamp": str(NOW), "nonce": "n"}, body)
    assert rejected.value.status == 400 and "exceeds" in rejected.value.reason


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><Encrypt>abc</xml>", b"<xml><ToUserName>x</ToUserName></xml>"])
def test_malformed_xml_or_no_encrypt_is_refused_with_400(adapter, body):
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({"msg_signature": "x", "timestamp": str(NOW), "nonce": "n"}, body)
    assert rejected.value.status == 400


BOMB = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + ']><xml><Encrypt>&j;</Encrypt></xml>')  # a billion "a"s if expanded


def test_an_xml_bomb_is_refused_with_400_without_expanding_it(adapter):
    tracemalloc.start()
    try:
        with pytest.raises(CallbackRejected) as rejected:
            adapter.parse_callback({"msg_signature": "x", "timestamp": str(NOW), "nonce": "n"}, BOMB.encode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rejected.value.status == 400 and "DTDForbidden" in rejected.value.reason
    assert peak < 1024 * 1024   # refused at the DOCTYPE: not even one level of entities was expanded


def test_a_bomb_inside_a_genuinely_encrypted_payload_is_refused_too(adapter):
    inner = BOMB.replace("<Encrypt>&j;</Encrypt>", "<MsgType>text</MsgType><Content>&j;</Content>")
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback(*signed(inner))
    assert rejected.value.status == 400


@pytest.fixture
def listener():
    """Yield (url, fetched): a loopback port, and a count of the connections made to it so far."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    peers, stop = queue.Queue(), threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except OSError:
                continue
            peers.put(peer)
            conn.close()

    def fetched() -> int:
        # Connections are accepted in arrival order: once our own probe is seen, every earlier one is too.
        with socket.create_connection(server.getsockname()) as probe:
            mine, count = probe.getsockname(), 0
            while (peer := peers.get(timeout=30)) != mine:
                count += 1
            return count

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/evil.dtd", fetched
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("template", [
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY ext SYSTEM "{url}">]><xml><Encrypt>&ext;</Encrypt></xml>',
    '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "{url}"><xml><Encrypt>x</Encrypt></xml>',
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "{url}"> %p;]><xml><Encrypt>x</Encrypt></xml>',
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY ext SYSTEM "file:///etc/hostname">]><xml><Encrypt>&ext;</Encrypt></xml>',
])
def test_an_external_entity_is_refused_with_400_and_never_fetched(adapter, listener, template):
    url, fetched = listener
    body = template.format(url=url).encode()
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({"msg_signature": "x", "timestamp": str(NOW), "nonce": "n"}, body)
    assert rejected.value.status == 400
    assert fetched() == 0


def test_a_signed_but_undecryptable_payload_is_refused_with_400(adapter):
    encrypt = "bm90IGEgY2lwaGVydGV4dA=="
    sig = hashlib.sha1("".join(sorted([TOKEN, str(NOW), "n", encrypt])).encode()).hexdigest()
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({"msg_signature": sig, "timestamp": str(NOW), "nonce": "n"},
                               f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode())
    assert rejected.value.status == 400


def test_a_payload_encrypted_for_another_corp_is_refused(adapter):
    crypto = WeChatCrypto(TOKEN, AES_KEY, "wwOTHERCORP")
    reply = crypto.encrypt_message(CLICK, "n", str(NOW))
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply).group(1)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply).group(1)
    with pytest.raises(CallbackRejected) as rejected:
        adapter.parse_callback({"msg_signature": sig, "timestamp": str(NOW), "nonce": "n"},
                               f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode())
    assert rejected.value.status == 403


def echo_args(plain: str, *, token: str = TOKEN) -> dict:
    """Return the GET parameters WeCom sends to verify the callback URL."""
    echostr = PrpCrypto(WeChatCrypto(token, AES_KEY, CORP_ID).key).encrypt(plain, CORP_ID).decode()
    ts, nonce = str(NOW), "1372623149"
    sig = hashlib.sha1("".join(sorted([token, ts, nonce, echostr])).encode()).hexdigest()
    return {"msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": echostr}


def test_the_url_handshake_returns_the_bare_decrypted_echostr(adapter):
    assert adapter.verify_url(echo_args("6457892355432589071")) == "6457892355432589071"


def test_a_handshake_with_a_bad_signature_is_refused_with_403(adapter):
    with pytest.raises(CallbackRejected) as rejected:
        adapter.verify_url(echo_args("6457892355432589071", token="wrong"))
    assert rejected.value.status == 403
    with pytest.raises(CallbackRejected) as rejected:
        adapter.verify_url({})
    assert rejected.value.status == 403
