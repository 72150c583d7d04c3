"""One permit's site QR code revoked and re-issued alone, end to end on both platforms: the old code and
its print page refused, the new one and another permit's code still checking people in."""
from __future__ import annotations

import pytest
import requests

from cards import links
from models import AuditEvent
from models.permit import Permit

from tests.test_wecom_real_path import apply_text, world  # noqa: F401  (world is a fixture)

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1]["content"])


@BOTH
def test_one_revoked_code_is_refused_while_another_permits_still_works(world):
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    phone.text("zhuyan", apply_text().replace("3#罐区东侧管廊", "常减压装置 V-101"))
    drain()
    first, second = Permit.select().order_by(Permit.id)
    assert (first.state, second.state) == ("in_approval", "in_approval")
    old_site, old_print = phone.site_code(first.no), links.url(first, "print", path="/print", base_url=phone.app)

    phone.text("jianghan", f"重发二维码 {first.no}")     # a worker may not void the posted code
    drain()
    assert "只有申请人或安全员、系统管理员可以重发" in said(phone, "jianghan")
    assert Permit.get_by_id(first.id).site_code_round == 0

    phone.text("zhuyan", f"重发二维码 {first.no}")
    drain()
    reply = said(phone, "zhuyan")
    assert "原现场二维码已作废" in reply
    renewed = Permit.get_by_id(first.id)
    assert renewed.site_code_round == 1
    assert links.url(renewed, "print", path="/print", base_url=phone.app).split("?")[1] in reply

    _, page = phone.open_code("chuwei", old_site)
    assert page.status_code == 404
    # The board says where a check-in is checked, and where it cannot be (no coordinates).
    assert "签到须在“3#罐区”60 米范围内" in phone.open_code("chuwei", phone.site_code(first.no))[1].text
    assert "“V-101”未登记坐标，按上级区域核对：签到须在“常减压装置”200 米范围内" in phone.open_code(
        "chuwei", phone.site_code(second.no))[1].text
    assert requests.get(old_print, timeout=10).status_code == 404
    assert phone.scan("chuwei", second.no) == 200         # the other permit's code still works
    assert phone.scan("chuwei", first.no) == 200          # and so does the new one
    # The card links (read only) were never tied to the posted code.
    assert requests.get(links.url(renewed, base_url=phone.app), timeout=10).status_code == 200
    assert AuditEvent.select().where((AuditEvent.permit_no == first.no)
                                     & (AuditEvent.action == "reissue_code")).count() == 1


def post_mark(phone, user: str, no: str, **place) -> requests.Response:
    """Scan the site code with user's phone and tap 现场签到, the page sending place as its position."""
    from handlers.demo.scripted import MARK_FORM
    browser, page = phone.open_code(user, phone.site_code(no))
    action = MARK_FORM.findall(page.text)[0].replace("&amp;", "&")
    return browser.post(requests.compat.urljoin(page.url, action), data={"action": "in", **place},
                        headers={"Origin": phone.app}, timeout=10)


@BOTH
def test_a_check_in_from_500_m_away_is_refused_naming_the_distance(world):
    from models import Area, CheckIn
    from workflow.places import distance_m
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    site = Area.get(Area.name == "3#罐区")            # the sample's: 60 m around its centre
    north = site.latitude + 500 / 111_195               # 500 m due north
    away = distance_m(north, site.longitude, site.latitude, site.longitude)
    refused = post_mark(phone, "chuwei", permit.no, latitude=north, longitude=site.longitude, accuracy=10)
    assert refused.status_code == 409
    assert f"您距作业地点“3#罐区”约 {away:.0f} 米，超出签到范围 60 米" in refused.text
    assert not CheckIn.select().exists()
    page = post_mark(phone, "chuwei", permit.no, latitude=site.latitude + 0.0002, longitude=site.longitude,
                     accuracy=10)
    assert page.status_code == 200 and "签到成功" in page.text
    mark = CheckIn.get()
    assert (mark.person.account, round(mark.latitude, 4)) == ("chuwei", round(site.latitude + 0.0002, 4))


@BOTH
def test_the_position_comes_from_the_apps_js_sdk_and_a_phone_without_one_is_refused(world):
    import re
    from models import Area, CheckIn
    from workflow.places import distance_m
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    site = Area.get(Area.name == "3#罐区")
    # The phone's GPS is 300 m east: the board's JS-SDK call reports it (DingTalk in GCJ-02, some 500 m
    # off, which the app turns back), and the refusal names the true distance.
    east = site.longitude + 300 / (111_195 * 0.866)
    phone.place("chuwei", site.latitude, east)
    refused = phone.visit("chuwei", permit.no, at=None)
    assert refused.status_code == 409
    said_away = int(re.search(r"您距作业地点“3#罐区”约 (\d+) 米，超出签到范围 60 米", refused.text).group(1))
    assert abs(said_away - distance_m(site.latitude, east, site.latitude, site.longitude)) <= 1
    # Location turned off: the JS-SDK has no fix, the page sends none, and a fenced site refuses.
    phone.place("chuwei", None)
    blind = phone.visit("chuwei", permit.no, at=None)
    assert blind.status_code == 409
    assert "未取得手机位置：在“3#罐区”签到须核对位置。请允许获取位置（打开手机定位）后重新扫码签到" in blind.text
    assert not CheckIn.select().exists()
    page = phone.visit("chuwei", permit.no)             # walks to the site: the GPS is at its centre
    assert page.status_code == 200 and "签到成功" in page.text
    mark = CheckIn.get()
    assert distance_m(mark.latitude, mark.longitude, site.latitude, site.longitude) < 1
    # Leaving is recorded without a position: a guardian's departure must never be refused.
    phone.place("chuwei", None)
    left = phone.visit("chuwei", permit.no, "out", at=None)
    assert left.status_code == 200 and "已登记离开现场" in left.text


@BOTH
def test_a_position_from_a_mock_location_app_is_refused_where_the_app_says_so(world):
    from models import Area, CheckIn
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    site = Area.get(Area.name == "3#罐区")
    phone.place("chuwei", site.latitude, site.longitude, mock=True)
    page = phone.visit("chuwei", permit.no, at=None)
    if phone.platform == "dingtalk":
        # DingTalk's Android client marks such a position (isFromMock); the board passes the mark on.
        assert page.status_code == 409
        assert "手机定位来自模拟定位（虚拟定位）软件，不能用于现场签到" in page.text
        assert not CheckIn.select().exists()
    else:
        # WeCom's getLocation says nothing of the kind: the position is taken as given (docs/wecom.md).
        assert page.status_code == 200 and "签到成功" in page.text


@BOTH
def test_a_site_without_coordinates_takes_a_check_in_without_a_position(world):
    from models import Area, CheckIn
    phone, drain, _ = world
    phone.text("zhuyan", apply_text())
    drain()
    permit = Permit.get()
    Area.update(latitude=None, longitude=None, radius=None).execute()
    phone.place("chuwei", None)
    _, board = phone.open_code("chuwei", phone.site_code(permit.no))
    assert "本作业地点未登记坐标和范围：签到不核对手机位置" in board.text
    page = phone.visit("chuwei", permit.no, at=None)
    assert page.status_code == 200 and "签到成功" in page.text
    assert CheckIn.get().latitude is None
