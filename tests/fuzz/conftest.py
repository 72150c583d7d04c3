"""The fuzz tests' app: both platforms configured for inbound traffic, the sample plant, the run's Redis.

Nothing is sent anywhere: the property is about what comes in. Each test counts the inputs it
tried; the run ends by printing the total.
"""
from __future__ import annotations

from collections import Counter

import pytest

import settings
from models import MODELS, SchemaVersion

from tests.worlds import AES_KEY, AGENT, APP_KEY, APP_SECRET, CORP, DING_CORP, SECRET, TOKEN

TRIED: Counter = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if TRIED:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
        terminalreporter.write_line(f"fuzz: {sum(TRIED.values())} inputs tried ({parts})")


@pytest.fixture
def tried(request):
    """Return a function that counts one input tried by this test."""
    name = request.node.originalname.removeprefix("test_")

    def count() -> None:
        TRIED[name] += 1
    return count


def stored() -> dict[str, int]:
    """Return every table's row count."""
    return {m._meta.table_name: m.select().count() for m in MODELS if m is not SchemaVersion}


@pytest.fixture
def fuzz_app(plant, monkeypatch, redis_url, redis_conn):
    """Yield the Flask app with WeCom and DingTalk (HTTP mode) configured, on the sample plant."""
    from app import create_app
    env = {"WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": str(AGENT), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
           "WECOM_AES_KEY": AES_KEY, "WECOM_API_BASE": "http://127.0.0.1:9",
           "DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET, "DINGTALK_CORP_ID": DING_CORP,
           "DINGTALK_API_BASE": "http://127.0.0.1:9", "DINGTALK_OAPI_BASE": "http://127.0.0.1:9",
           "DINGTALK_MODE": "http", "REDIS_URL": redis_url, "QUIET_HOURS": "off"}
    if plant.__class__.__name__.startswith("Sqlite"):
        env["DATABASE_URL"] = f"sqlite:///{plant.database}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    yield app
    settings.configure()
