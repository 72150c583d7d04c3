"""The DingTalk sandbox's phone view in a real browser: its script sends a message, clicks a card and
ticks a checklist over the Stream connection, keeps ticks across a refresh, reports a refused click, and
a scan checks in through DingTalk's OAuth page. Screenshots are kept (see conftest.py)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from models import CheckIn, Signature, find_person
from models.permit import Permit
from tests.test_wecom_real_path import apply_text
from workflow import machine

REFRESH = 20_000   # ms: the phone polls every 2 s; allow a few rounds on a busy machine
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
DINGTALK = pytest.mark.parametrize("world", ["dingtalk"], indirect=True)


def sent_through(page, path: str, action) -> None:
    """Do action on the page and wait until the sandbox has answered its POST to path.

    The sandbox answers a message or click once the app has ACKed its frame (or the wait ran out), so
    afterwards the app has kept it. Waiting through Playwright matters too: the page's requests pass the
    context's loopback-only route, which runs only while this thread is inside a Playwright call.
    """
    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path == path,
                              timeout=REFRESH):
        action()


def acked(sandbox: str, count: int) -> None:
    """Check that the Stream gateway holds an ACK for count frames: what the page sent is kept by the app."""
    snap = requests.get(f"{sandbox}/sandbox/stream", timeout=5).json()
    assert len([f for f in snap["delivered"] if f["acks"]]) == count, (
        f"ACKed {len(snap['delivered'])} frames, not {count}: "
        f"{({k: snap[k] for k in ('pending', 'failed', 'connections')})}")


def frames(sandbox: str) -> int:
    """Count every frame the gateway was asked to push, whatever became of it."""
    snap = requests.get(f"{sandbox}/sandbox/stream", timeout=5).json()
    return sum(len(snap[k]) for k in ("pending", "delivered", "failed"))


def account(person) -> str:
    return person.dingtalk_userid


@DINGTALK
def test_the_phone_page_applies_clicks_and_ticks_a_checklist_over_stream(world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, sandbox = world
    page = context_for(**PHONE).new_page()

    # 朱岩 types the application into the box and presses Enter, as on a phone.
    page.goto(f"{sandbox}/phone/zhuyan")
    expect(page.locator(".empty")).to_be_visible()
    page.locator("#box").fill(apply_text())
    sent_through(page, "/sandbox/text", lambda: page.locator("#box").press("Enter"))
    acked(sandbox, 1)
    drain()
    permit = Permit.get()
    expect(page.locator(".msg.app .bubble").last).to_contain_text(permit.no, timeout=REFRESH)
    expect(page.locator(".msg.mine .bubble").first).to_contain_text("动火作业")
    assert page.locator("#box").input_value() == ""

    # 郑计 confirms the plan on his card; the card settles in place once the click is handled.
    page.goto(f"{sandbox}/phone/zhengji")
    card = page.locator(f'.card[data-task^="{permit.no}-plan-"]')
    expect(card).to_be_visible()
    sent = frames(sandbox)
    sent_through(page, "/sandbox/click", lambda: card.get_by_role("button", name="确认").click())
    acked(sandbox, sent + 1)
    drain()
    expect(card).to_have_class("card settled", timeout=REFRESH)
    expect(card.locator(".done")).to_have_text("已处理")
    expect(card.locator("button")).to_have_count(0)
    shoot(page, "dingtalk-1-phone-plan-confirmed")
    signed = Signature.get(Signature.decision == "confirm")
    assert (signed.person_id, signed.channel) == (find_person("zhengji").id, "dingtalk")

    # The assessor's JSA card: ticks survive the list being redrawn, and all of them reach the app.
    step = machine.active_step(Permit.get_by_id(permit.id))
    assert step.key == "assess"
    assessor = machine.assignees(step)[0]
    page.goto(f"{sandbox}/phone/{account(assessor)}")
    card = page.locator(f'.card[data-task^="{permit.no}-assess-"]')
    boxes = card.locator(".option input")
    expect(boxes.first).to_be_visible()
    total = boxes.count()
    assert total >= 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    # A message of his own makes the page swap in the server's list; the two ticks must be put back.
    sent = frames(sandbox)
    page.locator("#box").fill("待办")
    sent_through(page, "/sandbox/text", lambda: page.locator("#box").press("Enter"))
    acked(sandbox, sent + 1)
    drain()
    expect(page.locator(".msg.mine .bubble").last).to_have_text("待办", timeout=REFRESH)
    expect(page.locator(".msg.app .bubble").last).to_contain_text(permit.no, timeout=REFRESH)
    assert [boxes.nth(i).is_checked() for i in range(total)] == [True, True] + [False] * (total - 2)
    for i in range(2, total):
        boxes.nth(i).check()
    sent = frames(sandbox)
    sent_through(page, "/sandbox/click", lambda: card.locator("button.primary").click())
    acked(sandbox, sent + 1)
    drain()
    expect(card).to_have_class("card settled", timeout=REFRESH)
    shoot(page, "dingtalk-2-phone-jsa-submitted")
    jsa = Signature.get(Signature.person == assessor, Signature.decision == "confirm")
    assert jsa.channel == "dingtalk"
    assert machine.active_step(Permit.get_by_id(permit.id)).key not in ("plan", "assess")


@DINGTALK
def test_a_click_the_sandbox_refuses_is_reported_on_the_page_and_changes_nothing(world, context_for):
    from playwright.sync_api import expect
    phone, drain, sandbox = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    page = context_for(**PHONE).new_page()
    page.goto(f"{sandbox}/phone/zhengji")
    card = page.locator(f'.card[data-task^="{permit.no}-plan-"]')
    expect(card).to_be_visible()
    # The members leave DingTalk's organisation while the page still shows the card.
    requests.post(f"{sandbox}/sandbox/users", json={"users": ["zhuyan"]}, timeout=5).raise_for_status()
    sent = frames(sandbox)
    card.get_by_role("button", name="确认").click()
    expect(page.locator(".note")).to_contain_text("沙箱拒绝：", timeout=REFRESH)
    expect(page.locator(".note")).to_contain_text("zhengji")
    assert frames(sandbox) == sent
    drain()
    assert not Signature.select().exists()
    assert machine.active_step(Permit.get_by_id(permit.id)).key == "plan"


@DINGTALK
def test_a_phone_scans_the_site_code_and_checks_in_through_dingtalk_oauth(world, context_for, shoot):
    from playwright.sync_api import expect
    phone, drain, sandbox = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()    # 吴海 approves a later step: he is on the permit already
    context = context_for(**PHONE, geolocation={"latitude": 30.2734, "longitude": 120.1566, "accuracy": 15},
                          permissions=["geolocation"])
    page = context.new_page()
    page.goto(f"{sandbox}/phone/wuhai")
    page.get_by_role("link", name="扫一扫").click()
    page.locator("#url").fill(phone.site_code(permit.no))
    page.get_by_role("button", name="打开").click()
    expect(page.locator("#scan")).to_have_text("现场签到")
    page.locator("#scan").click()
    expect(page.locator(".me .who")).to_contain_text("吴海 · 基层单位审批")
    assert "authCode=" not in page.url
    page.wait_for_function("document.querySelector('form.mark').latitude.value !== ''")
    page.locator("#checkin").click()
    expect(page.locator(".done")).to_have_text("签到成功")
    expect(page.locator("table.marks")).to_contain_text("吴海")
    shoot(page, "dingtalk-3-phone-checked-in")
    row = CheckIn.get()
    assert (row.person.dingtalk_userid, row.kind, row.source) == ("wuhai", "in", "scan")
