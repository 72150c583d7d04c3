"""What WeCom posts to the app's callback URL: event XML, encryption, retries, passive replies, URL check."""
from __future__ import annotations

import hashlib
import secrets
import time

import requests
import xmltodict
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

ANSWER_WITHIN = 5.0   # seconds; WeCom drops the connection after this and retries
ATTEMPTS = 3          # deliveries in total when the app does not answer 200
VERIFY_WITHIN = 1.0   # seconds allowed to answer the echostr of the URL check


def _cdata(value) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: list[tuple[str, object]], tail: str = "") -> str:
    """Render WeCom's flat <xml>: integers bare, strings in CDATA, then tail as is."""
    inner = "".join(f"<{name}>{value}</{name}>" if isinstance(value, int) else f"<{name}>{_cdata(value)}</{name}>"
                    for name, value in fields)
    return f"<xml>{inner}{tail}</xml>"


def click_xml(corp_id: str, agent_id: int, click: dict) -> str:
    """Render the decrypted template_card_event of a click (docs/wecom.md §3)."""
    tail = ""
    if click["selected"]:
        items = "".join(
            "<SelectedItem>" + f"<QuestionKey>{_cdata(key)}</QuestionKey><OptionIds>"
            + "".join(f"<OptionId>{_cdata(o)}</OptionId>" for o in ids) + "</OptionIds></SelectedItem>"
            for key, ids in click["selected"])
        tail = f"<SelectedItems>{items}</SelectedItems>"
    return to_xml([("ToUserName", corp_id), ("FromUserName", click["user"]), ("CreateTime", click["create_time"]),
                   ("MsgType", "event"), ("Event", click["event"]), ("EventKey", click["key"]),
                   ("TaskId", click["task_id"]), ("CardType", click["card_type"]),
                   ("ResponseCode", click["response_code"]), ("AgentID", agent_id)], tail)


def message_xml(corp_id: str, agent_id: int, entry: dict) -> str:
    """Render the decrypted text or image message a member sends to the app."""
    head = [("ToUserName", corp_id), ("FromUserName", entry["user"]), ("CreateTime", int(entry["sent_at"])),
            ("MsgType", entry["msgtype"])]
    if entry["msgtype"] == "text":
        body = [("Content", entry["content"]["content"])]
    else:
        body = [("PicUrl", entry["content"]["pic_url"]), ("MediaId", entry["content"]["media_id"])]
    return to_xml(head + body + [("MsgId", entry["msgid"]), ("AgentID", agent_id)])


class Callbacks:
    """Seal events with the app's Token and EncodingAESKey and post them as WeCom does."""

    def __init__(self, *, token: str, aes_key: str, corp_id: str, agent_id: int):
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.corp_id, self.agent_id = corp_id, agent_id

    def seal(self, xml: str, now: float) -> tuple[dict, bytes]:
        """Return the query parameters and body of the encrypted POST."""
        nonce, timestamp = str(secrets.randbelow(10**10)), str(int(now))
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        body = to_xml([("ToUserName", self.corp_id), ("AgentID", str(self.agent_id)), ("Encrypt", sealed["Encrypt"])])
        return {"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce}, body.encode()

    def deliver(self, url: str, xml: str, *, now: float, repeat: int = 1) -> dict:
        """POST one sealed event repeat times, each retried until 200 or ATTEMPTS tries; return every answer."""
        params, body = self.seal(xml, now)
        attempts = []
        for _ in range(repeat):
            for _ in range(ATTEMPTS):
                attempts.append(_post(url, params, body))
                if attempts[-1]["status"] == 200:
                    break
        return {"status": attempts[-1]["status"], "body": attempts[-1]["body"], "attempts": attempts}

    def open_reply(self, body: str) -> tuple[str | None, str | None]:
        """Return (plaintext, None) of an encrypted passive reply, or (None, why it is unusable)."""
        try:
            doc = xmltodict.parse(body)["xml"]
            fields = [doc.get(k) for k in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")]
        except Exception:  # noqa: BLE001 - any unparsable reply is reported, not raised
            return None, "reply is not WeCom reply XML"
        if not all(fields):
            return None, "reply lacks Encrypt, MsgSignature, TimeStamp or Nonce"
        encrypt, signature, timestamp, nonce = fields
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce), None
        except InvalidSignatureException:
            return None, "reply signature does not match"
        except Exception as exc:  # noqa: BLE001 - a reply that won't decrypt is reported to the caller
            return None, f"reply does not decrypt: {exc!r}"


def _post(url: str, params: dict, body: bytes) -> dict:
    try:
        answer = requests.post(url, params=params, data=body, timeout=ANSWER_WITHIN,
                               headers={"Content-Type": "text/xml; charset=utf-8"})
    except requests.Timeout:
        return {"status": None, "body": f"no answer within {ANSWER_WITHIN:g} s"}
    except requests.RequestException as exc:
        return {"status": None, "body": f"unreachable: {exc}"}
    return {"status": answer.status_code, "body": answer.text}


def verify_callback_url(callback_url: str, *, token: str, aes_key: str, corp_id: str,
                        now: float | None = None, within: float = VERIFY_WITHIN) -> dict:
    """Do WeCom's URL check: GET a signed, encrypted echostr and expect its plaintext back within 1 s."""
    key = WeChatCrypto(token, aes_key, corp_id).key
    echo = str(secrets.randbelow(10**19))
    echostr = PrpCrypto(key).encrypt(echo, corp_id).decode()
    timestamp, nonce = str(int(now if now is not None else time.time())), str(secrets.randbelow(10**10))
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce, echostr])).encode()).hexdigest()
    started = time.monotonic()
    try:
        answer = requests.get(callback_url, timeout=within + 1.0, params={
            "msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
    except requests.RequestException as exc:
        return {"ok": False, "why": f"no answer: {exc}", "status": None, "elapsed": time.monotonic() - started}
    elapsed = time.monotonic() - started
    result = {"status": answer.status_code, "elapsed": round(elapsed, 4)}
    if answer.status_code != 200:
        return {"ok": False, "why": f"answered HTTP {answer.status_code}", **result}
    if elapsed > within:
        return {"ok": False, "why": f"answered in {elapsed:.2f} s, over {within:g} s", **result}
    if answer.content != echo.encode():
        return {"ok": False, "why": f"answered {answer.content[:80]!r}, expected exactly {echo!r}", **result}
    return {"ok": True, "why": f"echostr returned in {elapsed:.3f} s", **result}
