"""Hostile request bodies at the callback routes: each gets a precise 4xx, nothing is stored, no 500."""
from __future__ import annotations

import io

import pytest

import settings
from models import AuditEvent, Outbox
from tests.worlds import AES_KEY, AGENT, CORP, TOKEN

WECOM = {"WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": "s", "WECOM_TOKEN": TOKEN,
         "WECOM_AES_KEY": AES_KEY, "DINGTALK_APP_KEY": "dingkey", "DINGTALK_APP_SECRET": "dingsecret",
         "DINGTALK_CORP_ID": "dingcorp", "DINGTALK_MODE": "http"}


@pytest.fixture
def client(plant, monkeypatch, redis_conn):
    from app import create_app
    from tests.worlds import _redis_url
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    monkeypatch.setenv("REDIS_URL", _redis_url(redis_conn))
    yield lambda **extra: create_app({**WECOM, **extra}).test_client()
    settings.configure()


def nothing_stored() -> bool:
    return AuditEvent.select().count() == 0 and Outbox.select().count() == 0


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, _buffer) -> int:
        raise AssertionError("the body was read")


def test_a_wecom_body_declaring_gbk_is_refused_with_400(client):
    body = '<?xml version="1.0" encoding="GBK"?><xml><Encrypt>密文</Encrypt></xml>'.encode("gbk")
    answer = client().post("/wecom/callback?msg_signature=a&timestamp=1&nonce=n", data=body)
    assert answer.status_code == 400
    assert answer.get_data(as_text=True) == "unsupported XML encoding: multi-byte encodings are not supported"
    assert nothing_stored()


def test_an_oversize_wecom_body_is_refused_from_its_length_before_it_is_read(client):
    answer = client().post("/wecom/callback?msg_signature=a&timestamp=1&nonce=n", input_stream=Unreadable(),
                           environ_overrides={"CONTENT_LENGTH": str(64 * 1024 + 1)})
    assert (answer.status_code, answer.get_data(as_text=True)) == (413, "body of 65537 bytes exceeds 65536")
    assert nothing_stored()


def test_a_body_past_max_content_length_gets_a_413_error_object_unread(client):
    answer = client(MAX_CONTENT_LENGTH="2048").post(
        "/dingtalk/events", input_stream=Unreadable(), environ_overrides={"CONTENT_LENGTH": "4096"})
    assert (answer.status_code, answer.get_json()) == (413, {"error": "body_too_large", "message": "请求体超过 2 KB"})
    assert nothing_stored()


def test_max_content_length_defaults_to_one_mebibyte(client):
    assert client().application.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
