"""Regenerate the README's pictures of what people see: python scripts/screenshots.py (make screenshots).

The demo runs in a temporary instance on free ports; 朱岩 applies for a hot-work permit in one message
naming the crew by name; then headless Chromium (Debian's, driven by Playwright, as tests/browser does)
photographs the applicant's phone (the one-message form and its answer), the planner's phone (the card
that asks for 作业计划), and the permit's board on a wall tablet. The report chart (docs/report-overview.png)
comes from scripts/render_report.py, which needs LibreOffice; the Makefile runs it where soffice is.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2}
TABLET = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


def _shoot(shots: list[tuple[str, dict, Path]]) -> None:
    """Photograph each (url, context options, file) in headless Chromium, in a thread of its own.

    Playwright's sync API runs an event loop; the demo's Stream connection has one in this process too,
    and two loops may not share a thread.
    """
    from playwright.sync_api import sync_playwright
    failure: list[BaseException] = []

    def run() -> None:
        try:
            executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            if not executable:
                raise SystemExit("Chromium is not installed: apt-get install chromium (or set CHROMIUM)")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
                for url, options, out in shots:
                    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
                    page = context.new_page()
                    page.goto(url, wait_until="networkidle")
                    page.screenshot(path=str(out))
                    context.close()
                    print(f"wrote {out.relative_to(ROOT)}")
                browser.close()
        except BaseException as exc:   # handed to the main thread, which reports it
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def main() -> int:
    folder = tempfile.mkdtemp(prefix="permit-screenshots-")
    os.environ["INSTANCE_PATH"] = folder
    for name in [k for k in os.environ if k.startswith(("WECOM_", "DINGTALK_", "REDIS_URL", "DATABASE_URL"))]:
        del os.environ[name]
    from app import create_app
    from cards import links
    from handlers.demo.demo import STORY_TIMERS, hot_work_form, phone_for, running, wait_delivered
    from models.permit import Permit
    try:
        with running(create_app, port=0, sandbox_port=0, timers=STORY_TIMERS, fresh_choices=True) as demo:
            phone = phone_for(demo, "wecom")
            form = hot_work_form("二级").replace("作业人: jianghan,shenli", "作业人: 蒋焊,沈力").replace(
                "监护人: chuwei", "监护人: 褚卫")
            phone.text("zhuyan", form)
            wait_delivered()
            permit = Permit.select().order_by(Permit.id.desc()).get()
            _shoot([(f"{demo.wecom}/phone/zhuyan", PHONE, DOCS / "phone-form.png"),
                    (f"{demo.wecom}/phone/zhengji", PHONE, DOCS / "phone-card.png"),
                    (links.url(permit), TABLET, DOCS / "board-tablet.png")])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
