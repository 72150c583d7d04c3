"""The board in a real browser: it follows the permit by itself, turns red on a gas alarm, and a phone
checks in through the sandbox's 扫一扫 and OAuth page. Screenshots are kept (see conftest.py)."""
from __future__ import annotations

import re

import pytest

from cards import links
from handlers.demo.scripted import CLEAN, take_through
from models import CheckIn, Signature, find_person
from models.permit import Permit
from tests.test_wecom_real_path import a_detector, apply_text

REFRESH = 20_000   # ms: the board polls every 5 s; allow a few rounds on a busy machine
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
TABLET = {"viewport": {"width": 1280, "height": 800}}


def applied(phone, drain) -> Permit:
    phone.text("zhuyan", apply_text())      # 二级 hot work: the unit's approval is the only one
    drain()
    return Permit.get()


def test_the_board_follows_the_permit_when_the_approval_lands(world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, _ = world
    permit = applied(phone, drain)
    page = context_for(**PHONE).new_page()

    def watch(step) -> None:
        page.goto(links.url(permit, base_url=phone.app))
        expect(page.locator(".state-label")).to_have_text("审批中")
        expect(page.locator(".state-sub")).to_contain_text(step.name)
        shoot(page, "1-phone-in-approval")

    # The approvers scan the site code and click 同意 on their phones while the board is open.
    take_through(phone, permit.no, drain, until="issued", pause_at={"approve_unit": watch})
    approver = Signature.get(Signature.decision == "approve").person
    # Nobody reloads the page: it notices by itself.
    expect(page.locator(".state-label")).to_have_text("未开工", timeout=REFRESH)
    expect(page.locator(".state-sub")).to_contain_text("现场开工")
    expect(page.locator("ol.signatures")).to_contain_text(f"{approver.name} 同意")
    expect(page.locator("table.marks")).to_contain_text(approver.name)
    shoot(page, "2-phone-issued")


def test_a_gas_alarm_appears_in_red_on_the_wall_tablet(world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, _ = world
    permit = applied(phone, drain)
    device = a_detector(phone)
    take_through(phone, permit.no, drain, until="in_progress", detector=device)
    page = context_for(**TABLET).new_page()
    page.goto(links.url(permit, base_url=phone.app))
    expect(page.locator(".state-label")).to_have_text("作业中")
    expect(page.locator(".alarms")).to_have_count(0)
    shoot(page, "3-tablet-in-progress")
    assert device.change({**CLEAN, "H2S": 25.0}).json()["suspended"] == [permit.no]
    alarm = page.locator(".alarm")
    expect(alarm).to_be_visible(timeout=REFRESH)
    expect(alarm.locator(".alarm-level")).to_have_text("二级报警")
    expect(alarm).to_contain_text("硫化氢")
    expect(page.locator(".state-label")).to_have_text("已暂停")
    # Red is what a person across the site sees: the alarm's text, its frame and the state banner.
    color = alarm.evaluate("e => getComputedStyle(e).color")
    frame = page.locator(".alarms").evaluate("e => getComputedStyle(e).borderTopColor")
    banner = page.locator(".state").evaluate("e => getComputedStyle(e).backgroundColor")
    assert [_red(c) for c in (color, frame, banner)] == [True, True, True], (color, frame, banner)
    shoot(page, "4-tablet-gas-alarm")


def _red(css: str) -> bool:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return r > 150 and g < 60 and b < 60


def test_a_phone_scans_the_site_code_and_checks_in_through_oauth(world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, sandbox = world
    permit = applied(phone, drain)     # 吴海 approves a later step: he is on the permit already
    context = context_for(**PHONE, geolocation={"latitude": 30.2734, "longitude": 120.1566, "accuracy": 15},
                          permissions=["geolocation"])
    page = context.new_page()
    page.goto(f"{sandbox}/phone/wuhai")
    page.get_by_role("link", name="扫一扫").click()
    page.locator("#url").fill(phone.site_code(permit.no))
    page.get_by_role("button", name="打开").click()
    # An ordinary browser (not WeCom's) is not sent through OAuth until it asks to check in.
    expect(page.locator("#scan")).to_have_text("现场签到")
    page.locator("#scan").click()
    expect(page.locator(".me .who")).to_contain_text("吴海 · 基层单位审批")
    assert "code=" not in page.url
    page.wait_for_function("document.querySelector('form.mark').latitude.value !== ''")
    page.locator("#checkin").click()
    expect(page.locator(".done")).to_have_text("签到成功")
    expect(page.locator("table.marks")).to_contain_text("吴海")
    shoot(page, "5-phone-checked-in")
    row = CheckIn.get()
    assert (row.person_id, row.kind, row.source) == (find_person("wuhai").id, "in", "scan")
    assert (round(row.latitude, 4), round(row.longitude, 4)) == (30.2734, 120.1566)   # inside 3#罐区


@pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
def test_in_the_chat_apps_browser_the_position_comes_from_its_js_sdk(world, context_for):
    from urllib.parse import quote
    from playwright.sync_api import expect
    from models import Area
    from workflow.places import distance_m
    phone, drain, sandbox = world
    permit = applied(phone, drain)
    site = Area.get(Area.name == "3#罐区")
    phone.place("wuhai", site.latitude + 0.0002, site.longitude)     # 22 m north of its centre
    # The app's own browser, and no leave to use the browser's position: only the JS-SDK can say where.
    page = context_for(**PHONE, user_agent=phone.browser).new_page()
    page.goto(f"{sandbox}/phone/wuhai/scan?url={quote(phone.site_code(permit.no), safe='')}")
    expect(page.locator(".me .who")).to_contain_text("吴海")
    page.wait_for_function("document.querySelector('form.mark').latitude.value !== ''")
    assert page.locator("form.mark input[name=datum]").first.input_value() == (
        "wgs84" if phone.platform == "wecom" else "gcj02")
    page.locator("#checkin").click()
    expect(page.locator(".done")).to_have_text("签到成功")
    row = CheckIn.get()
    assert distance_m(row.latitude, row.longitude, site.latitude + 0.0002, site.longitude) < 1
