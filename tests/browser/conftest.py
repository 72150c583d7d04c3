"""Headless Chromium from Debian's package, driven by Playwright; skipped with the reason where missing.

Screenshots are kept as test artefacts under instance/test-artifacts/board/ (or $TEST_ARTIFACTS/board/);
the run's summary lists them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The sandbox and the app, started as the real-path tests start them.
from tests.test_wecom_real_path import world  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or ROOT / "instance" / "test-artifacts") / "board"
_taken: list[Path] = []


def _chromium() -> str | None:
    """Return the system Chromium: $CHROMIUM, else Debian's /usr/bin/chromium (no browser download here)."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).exists() else None


@pytest.fixture(scope="session")
def chromium():
    """Yield a headless Chromium; skip the browser tests where Playwright or Chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -r requirements-dev.txt")
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (or set CHROMIUM to its path)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def context_for(chromium):
    """Return a maker of browser contexts that can reach loopback only, as every test here must."""
    made = []

    def make(**options):
        context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)

        def only_loopback(route):
            host = urlsplit(route.request.url).hostname or ""
            if host.startswith("127.") or host in ("localhost", "::1") or route.request.url.startswith("data:"):
                return route.continue_()
            made_requests_outside.append(route.request.url)
            return route.abort()
        context.route("**/*", only_loopback)
        made.append(context)
        return context

    made_requests_outside: list[str] = []
    yield make
    for context in made:
        context.close()
    assert not made_requests_outside, f"the page tried to reach {made_requests_outside}"


@pytest.fixture
def shoot():
    """Return shoot(page, name): a full-page screenshot kept under ARTIFACTS."""
    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        _taken.append(path)
        return path
    return take


def pytest_terminal_summary(terminalreporter):
    if _taken:
        terminalreporter.write_sep("-", "browser screenshots (test artefacts)")
        for path in _taken:
            terminalreporter.write_line(str(path))
