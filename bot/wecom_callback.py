"""Turn a WeCom callback (signed, encrypted XML) into a neutral Event, refusing anything not genuine."""
from __future__ import annotations

import logging
import struct
from typing import Mapping
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.base import CallbackRejected, Event

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a real callback is a few KiB; anything larger is refused before parsing


def parse_xml(data: bytes) -> Element:
    """Parse XML without DTDs or entities, so a bomb or external entity is refused, never expanded."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError) as exc:
        raise CallbackRejected(400, f"malformed or forbidden XML: {type(exc).__name__}") from exc
    except (ValueError, LookupError) as exc:   # expat refuses a declared multi-byte or unknown encoding
        raise CallbackRejected(400, f"unsupported XML encoding: {exc}") from None


def xml_to_dict(root: Element) -> dict:
    """Return the message's fields; SelectedItems becomes a list of {QuestionKey, OptionIds}."""
    raw: dict = {}
    for child in root:
        if child.tag == "SelectedItems":
            raw["SelectedItems"] = [
                {"QuestionKey": item.findtext("QuestionKey") or "",
                 "OptionIds": [o.text or "" for o in item.iter("OptionId")]}
                for item in child.iter("SelectedItem")]
        elif len(child):
            raw[child.tag] = xml_to_dict(child)
        else:
            raw[child.tag] = child.text or ""
    return raw


class CallbackReader:
    """Verify, decrypt and map WeCom callbacks with one app's token and EncodingAESKey."""

    def __init__(self, *, corp_id: str, token: str, aes_key: str, replay_window: float, clock):
        self._crypto = WeChatCrypto(token, aes_key, corp_id)
        self._window, self._clock = replay_window, clock

    def verify_url(self, args: Mapping) -> str:
        """Check the GET handshake's signature and return the decrypted echostr."""
        sig, ts, nonce, echo = (args.get(k) or "" for k in ("msg_signature", "timestamp", "nonce", "echostr"))
        if not (sig and ts and nonce and echo):
            raise CallbackRejected(403, "missing msg_signature, timestamp, nonce or echostr")
        return self._open(lambda: self._crypto.check_signature(sig, ts, nonce, echo)).strip()

    def parse(self, args: Mapping, body: bytes) -> Event:
        """Return the Event carried by one POSTed callback, or raise CallbackRejected."""
        if len(body) > MAX_BODY:
            raise CallbackRejected(400, f"body of {len(body)} bytes exceeds {MAX_BODY}")
        encrypt = (parse_xml(body).findtext("Encrypt") or "").strip()
        if not encrypt:
            raise CallbackRejected(400, "no Encrypt element")
        sig, ts, nonce = (args.get(k) or "" for k in ("msg_signature", "timestamp", "nonce"))
        if not (sig and ts and nonce):
            raise CallbackRejected(403, "missing msg_signature, timestamp or nonce")
        # Hand wechatpy the already-parsed field: given a string it would parse with xmltodict (expat),
        # which is not hardened against entity expansion.
        plain = self._open(lambda: self._crypto.decrypt_message({"Encrypt": encrypt}, sig, ts, nonce))
        # The timestamp is covered by the signature, so checking it after verification makes it trustworthy.
        try:
            skew = abs(self._clock() - int(ts))
        except ValueError:
            raise CallbackRejected(400, "timestamp is not an integer") from None
        if skew > self._window:
            raise CallbackRejected(403, f"stale timestamp ({skew:.0f} s outside the replay window)")
        return to_event(xml_to_dict(parse_xml(plain.encode("utf-8"))))

    @staticmethod
    def _open(decrypt) -> str:
        try:
            return decrypt()
        except InvalidSignatureException:
            raise CallbackRejected(403, "bad msg_signature") from None
        except InvalidCorpIdException:
            raise CallbackRejected(403, "encrypted for another corp") from None
        except (ValueError, TypeError, IndexError, struct.error) as exc:  # signed but bad base64/padding/length
            raise CallbackRejected(400, f"cannot decrypt: {type(exc).__name__}") from None


def to_event(raw: dict) -> Event:
    """Map a decrypted message to an Event; types we do not handle become kind="unknown"."""
    try:
        created = int(raw.get("CreateTime") or 0)
    except ValueError:
        raise CallbackRejected(400, "CreateTime is not an integer") from None
    common = {"platform": "wecom", "user_id": raw.get("FromUserName", ""), "created_at": created, "raw": raw,
              # MsgId is read from the dict: wechatpy's msg.id calls int() and breaks on string ids.
              "msg_id": str(raw.get("MsgId", ""))}
    msg_type = raw.get("MsgType")
    if msg_type == "text":
        return Event(kind="text", text=raw.get("Content", ""), **common)
    if msg_type == "image":
        return Event(kind="image", media_id=raw.get("MediaId", ""), **common)
    if msg_type == "event" and raw.get("Event") == "template_card_event":
        selected = tuple(o for item in raw.get("SelectedItems", []) for o in item["OptionIds"])
        return Event(kind="click", key=raw.get("EventKey", ""), task_id=raw.get("TaskId", ""),
                     response_code=raw.get("ResponseCode", ""), selected=selected, **common)
    log.info("wecom callback of unhandled type %s/%s from %s", msg_type, raw.get("Event", ""),
             common["user_id"])
    return Event(kind="unknown", **common)
