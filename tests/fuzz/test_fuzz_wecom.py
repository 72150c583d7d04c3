"""Fuzz the WeCom callback: raw bodies, and XML from strategies sealed with WeCom's real crypto."""
from __future__ import annotations

import time
from xml.sax.saxutils import escape

from hypothesis import given, strategies as st

from models import Permit, Signature, Step

from tests.fuzz.conftest import stored
from tests.fuzz.strategies import ACCOUNTS, card_key, chat_text
from tests.worlds import AES_KEY, AGENT, CORP, TOKEN

URL = "/wecom/callback"


def answered(answer) -> int:
    """Check the one property every input shares: an answer, and no traceback in it."""
    assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
    assert "Traceback" not in answer.get_data(as_text=True)
    return answer.status_code


@given(body=st.one_of(st.binary(max_size=2000),
                      st.text(max_size=500).map(lambda t: f"<xml><Encrypt>{t}</Encrypt></xml>".encode("utf-8",
                                                                                                   "surrogatepass")),
                      st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))),
       args=st.dictionaries(st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]),
                            st.text(max_size=50), max_size=4))
def test_any_unsigned_body_is_refused_with_a_4xx_and_stores_nothing(fuzz_app, tried, body, args):
    tried()
    client = fuzz_app.test_client()
    before = stored()
    status = answered(client.post(URL, query_string=args, data=body))
    assert 400 <= status < 500
    assert answered(client.get(URL, query_string=args)) in (400, 403)
    assert stored() == before


FIELD = st.one_of(st.text(max_size=60), st.integers().map(str), st.just(""))


@st.composite
def message(draw) -> str:
    """The decrypted XML of a text, image, click or unknown event, its fields drawn from strategies."""
    kind = draw(st.sampled_from(["text", "image", "click", "other"]))
    fields = [("ToUserName", CORP), ("FromUserName", draw(st.sampled_from(ACCOUNTS) | FIELD)),
              ("CreateTime", draw(st.sampled_from([str(int(time.time()))]) | FIELD)), ("AgentID", str(AGENT))]
    if kind == "text":
        fields += [("MsgType", "text"), ("Content", draw(chat_text())), ("MsgId", draw(FIELD))]
    elif kind == "image":
        fields += [("MsgType", "image"), ("MediaId", draw(FIELD)), ("PicUrl", draw(FIELD)), ("MsgId", draw(FIELD))]
    elif kind == "click":
        fields += [("MsgType", "event"), ("Event", "template_card_event"), ("EventKey", draw(card_key())),
                   ("TaskId", draw(FIELD)), ("CardType", draw(FIELD)), ("ResponseCode", draw(FIELD))]
    else:
        fields += [("MsgType", draw(FIELD)), ("Event", draw(FIELD))]
    xml = "".join(f"<{name}><![CDATA[{value.replace(']]>', '')}]]></{name}>" if draw(st.booleans())
                  else f"<{name}>{escape(value)}</{name}>" for name, value in fields)
    if kind == "click" and draw(st.booleans()):
        options = "".join(f"<OptionId>{escape(o)}</OptionId>" for o in draw(st.lists(FIELD, max_size=3)))
        xml += f"<SelectedItems><SelectedItem><QuestionKey>q</QuestionKey><OptionIds>{options}</OptionIds>" \
               "</SelectedItem></SelectedItems>"
    return f"<xml>{xml}</xml>"


@given(xml=message())
def test_any_sealed_message_is_answered_and_changes_no_permit(fuzz_app, tried, xml):
    from sandbox.wecom_callback import Callbacks
    tried()
    client = fuzz_app.test_client()
    before = stored()
    params, body = Callbacks(token=TOKEN, aes_key=AES_KEY, corp_id=CORP, agent_id=AGENT).seal(xml, time.time())
    status = answered(client.post(URL, query_string=params, data=body))
    after = stored()
    if status != 200:
        assert after == before   # refused: nothing stored
    # Random words never make or sign a permit; a refusal may only answer in chat.
    for table in (Permit, Step, Signature):
        assert after[table._meta.table_name] == before[table._meta.table_name]
