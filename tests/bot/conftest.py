"""Fixtures for the platform adapters: a real Redis (the run's own, one key prefix per test) and WeCom credentials."""
from __future__ import annotations

import base64
import uuid

import pytest

CORP_ID, AGENT_ID, SECRET, TOKEN = "wwcorp0001", 1000002, "s3cret-of-the-app", "callbacktoken"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters, as WeCom issues them


@pytest.fixture
def key_prefix(redis_conn):
    """Return a key prefix used by this test only, and delete its keys afterwards."""
    prefix = f"test-wecom-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in redis_conn.scan_iter(f"{prefix}:*"):
        redis_conn.delete(key)


@pytest.fixture
def make_adapter(redis_conn, key_prefix):
    """Return a factory of WeComAdapters that share this test's Redis prefix."""
    from bot.wecom import WeComAdapter

    def make(**overrides):
        kwargs = dict(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, token=TOKEN, aes_key=AES_KEY,
                      redis=redis_conn, key_prefix=key_prefix, sleep=lambda s: None)
        kwargs.update(overrides)
        return WeComAdapter(**kwargs)

    return make
