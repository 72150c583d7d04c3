"""On site, end to end (issue #8): phones scan the site QR code through the WeCom sandbox's OAuth page,
approvers and the start wait for it, a guardian's leaving stops the work, and bad OAuth codes are refused."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from handlers.demo.scripted import GOOD_AIR, WECOM_BROWSER, take_through
from models import AuditEvent, CheckIn, Signature
from models.permit import Permit
from tests.test_wecom_real_path import applied, take_one, world  # noqa: F401
from workflow import machine


def to_step(phone, drain, no: str, key: str):
    for _ in range(12):
        step = machine.active_step(Permit.get(Permit.no == no))
        if step.key == key:
            return step
        take_one(phone, drain, no)
    raise AssertionError(f"{no} never reached {key}")


def click_again(phone, user: str, prefix: str) -> dict:
    """Click the card again at once: a new tap carries a new response code, so even in the same
    second it is not mistaken for WeCom's retry of the first."""
    return phone.click(user, phone.open_card(user, prefix))


def newest_notice(phone, user: str) -> str:
    return str(phone.messages(user)[-1]["content"])


def test_an_approval_counts_only_after_the_approver_scanned_the_site_code(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    to_step(phone, drain, permit.no, "approve_unit")
    card = phone.open_card("wuhai", f"{permit.no}-approve_unit-")
    assert "请先到现场扫码签到（30 分钟内有效）" in str(card["card"])
    assert phone.click("wuhai", card)["status"] == 200
    drain()
    assert "请先到现场扫码签到" in newest_notice(phone, "wuhai")
    assert not Signature.select().where(Signature.decision == "approve").exists()
    assert machine.active_step(Permit.get_by_id(permit.id)).key == "approve_unit"
    assert phone.scan("wuhai", permit.no) == 200
    assert click_again(phone, "wuhai", f"{permit.no}-approve_unit-")["status"] == 200
    drain()
    assert Signature.get(Signature.decision == "approve").person.wecom_userid == "wuhai"


def test_work_starts_only_after_the_guardian_and_the_work_leader_scanned_in(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    no = permit.no
    take_through(phone, no, drain, until="issued")
    phone.photo("zhuyan", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "灭火器.png")
    phone.text("chenjian", f"气体检测 {no} {GOOD_AIR}")
    drain()
    card = phone.open_card("chuwei", f"{no}-start-")
    assert "须监护人、作业负责人现场扫码签到" in str(card["card"])
    phone.click("chuwei", card)
    drain()
    assert "开工前须现场扫码签到：监护人 褚卫、作业负责人 蒋焊" in newest_notice(phone, "chuwei")
    assert phone.scan("chuwei", no) == 200
    click_again(phone, "chuwei", f"{no}-start-")
    drain()
    assert "作业负责人 蒋焊" in newest_notice(phone, "chuwei") and Permit.get(Permit.no == no).state == "issued"
    assert phone.scan("jianghan", no) == 200
    click_again(phone, "chuwei", f"{no}-start-")
    drain()
    assert Permit.get(Permit.no == no).state == "in_progress"


def test_the_guardian_leaving_the_site_suspends_the_work_until_they_scan_back_in(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    no = take_through(phone, permit.no, drain, until="in_progress").no
    page = phone.visit("chuwei", no, "out")
    assert page.status_code == 200 and "监护人离开，作业已暂停" in page.text
    assert Permit.get(Permit.no == no).state == "suspended"
    drain()
    assert any("立即停止作业" in str(m["content"]) and "监护人 褚卫 离开现场" in str(m["content"])
               for m in phone.messages("shenli"))
    assert [e.action for e in AuditEvent.select().where(AuditEvent.permit_no == no)
            .order_by(AuditEvent.seq)][-2:] == ["check_out", "suspend"]
    phone.text("chuwei", f"恢复 {no}")
    drain()
    assert "回到现场扫码签到" in newest_notice(phone, "chuwei") and Permit.get(Permit.no == no).state == "suspended"
    assert phone.scan("chuwei", no) == 200
    phone.text("chenjian", f"气体检测 {no} {GOOD_AIR}")
    phone.text("chuwei", f"恢复 {no}")
    drain()
    assert Permit.get(Permit.no == no).state == "in_progress"


def test_someone_not_on_the_permit_is_recorded_as_a_visitor(world):
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    page = phone.visit("luodian", permit.no)
    assert page.status_code == 200 and "已登记到访：您不在本作业票上，到访不作为签到" in page.text
    assert [(c.person.wecom_userid, c.kind) for c in CheckIn.select()] == [("luodian", "visit")]


def test_a_cards_link_opened_in_wecom_shows_the_board_but_checks_nobody_in(world):
    from cards import links
    phone, drain, _ = world
    permit, _ = applied(phone, drain)
    card = phone.open_card("zhengji", f"{permit.no}-plan-")
    url = card["card"]["card_action"]["url"]
    assert url == links.url(permit, base_url=phone.app)
    page = requests.get(url, headers={"User-Agent": WECOM_BROWSER}, timeout=10)
    assert page.status_code == 200 and not page.history          # no OAuth round trip
    assert "现场签到请用企业微信或钉钉扫描作业现场张贴的二维码" in page.text and 'class="mark"' not in page.text


def test_oauth_codes_that_are_replayed_or_belong_to_someone_else_are_refused(world):
    phone, drain, sandbox = world
    permit, _ = applied(phone, drain)
    browser, board = phone.open_code("wuhai", phone.site_code(permit.no))
    back = next(r for r in board.history if "code=" in r.url)   # the OAuth page's answer, as it reached us
    # The same code again, in the same browser (its state still matching): used once, refused.
    state = parse_qs(urlsplit(back.url).query)["state"][0]
    browser.cookies.set("board_oauth", state, path=f"/board/{permit.no}", domain=urlsplit(phone.app).hostname)
    replay = browser.get(back.url, timeout=10, allow_redirects=False)
    assert replay.status_code == 403 and "已失效或已使用过" in replay.text
    # A fresh code sent on to another phone: that browser never asked for it (no state cookie).
    code = requests.post(f"{sandbox}/sandbox/oauth/code", json={"userid": "wuhai"}, timeout=10).json()["code"]
    elsewhere = requests.get(f"{phone.site_code(permit.no)}&code={code}&state=abc", timeout=10)
    assert elsewhere.status_code == 403 and "不是在本手机上扫码打开的" in elsewhere.text
    # Someone outside the corp: WeCom answers with an openid, not a member's userid.
    stranger = requests.Session()
    stranger.headers["User-Agent"] = WECOM_BROWSER
    stranger.cookies.set("wecom_sandbox_user", "visitor-from-outside")
    outside = stranger.get(phone.site_code(permit.no), timeout=10)
    assert outside.status_code == 403 and "请在企业微信客户端打开链接" in outside.text
    assert not CheckIn.select().exists()
