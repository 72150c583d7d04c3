"""Fixtures for the platform adapters: a real Redis (db 15, one key prefix per test) and WeCom credentials."""
from __future__ import annotations

import base64
import os
import uuid

import pytest
from redis import Redis

CORP_ID, AGENT_ID, SECRET, TOKEN = "wwcorp0001", 1000002, "s3cret-of-the-app", "callbacktoken"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters, as WeCom issues them


@pytest.fixture
def redis_conn():
    """Yield a client on the real Redis (db 15); every key the test made under its prefix is removed."""
    conn = Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    conn.ping()
    yield conn
    conn.close()


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
