"""Park enterprises on one deployment, over HTTP and through the rq worker: what an enterprise's write token
posts is handled on that enterprise's database, and its card reaches the chat."""
from __future__ import annotations

import base64
import time
from contextlib import contextmanager, nullcontext

import pytest
import requests

import settings
from bot.dingtalk_sign import dingtalk_sign
from cards import links
from emergency import muster, stop
from exports.org_import import load_org
from handlers.api import tokens
from handlers.demo.demo import stream_connection, ws_connection
from handlers.web import area_board
from handlers.demo.scripted import DingTalkPhone, Phone, WsPhone, tiny_png
from models import Attachment, AuditEvent, CheckIn, Finding, InboxEvent, Outbox, Person, Signature, find_person
from models.area import Area
from models.db import bound
from models.permit import Permit
from park import enterprises
from sandbox.wecom_callback import Callbacks
from tests.conftest import SAMPLE_ORG
from tests.test_wecom_real_path import apply_text, world  # noqa: F401
from tests.worlds import AES_KEY, AGENT, APP_SECRET, CORP, TOKEN

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def enterprise(code: str, url: str) -> None:
    """Add an enterprise with the sample org, its people holding the same accounts on both apps as in the world."""
    enterprises.add(code, f"{code}化工", url)
    with bound(enterprises.database_of(code)):
        load_org(SAMPLE_ORG)
        Person.update(dingtalk_userid=Person.wecom_userid).where(Person.wecom_userid.is_null(False)).execute()


@BOTH
def test_an_enterprises_write_token_posts_a_finding_whose_card_the_worker_delivers(world, enterprise_url):
    phone, drain, _ = world
    enterprise("yi", enterprise_url("yi"))
    auth = {"Authorization": f"Bearer {tokens.create('乙厂巡检', 'write', enterprise='yi')}",
            "Idempotency-Key": "yi-round-1"}
    body = {"place": "3#罐区", "description": "乙厂东侧消防通道被杂物堵塞", "found_by": "褚卫"}
    posted = requests.post(f"{phone.app}/api/v1/findings", json=body, headers=auth, timeout=10)
    assert posted.status_code == 201, posted.text
    no = posted.json()["no"]
    drain()
    # The card was queued in yi's database and sent by a job that ran there.
    assert f"请指派整改：指派 {no}" in str(phone.messages("sunli")[-1])
    assert not Finding.select().exists()
    with bound(enterprises.database_of("yi")):
        assert Finding.get().no == no


# Two enterprises of the park with apps of their own: 甲 on a WeCom corp, 乙 on a DingTalk org (HTTP callbacks).
JIA_CORP, JIA_SECRET, JIA_TOKEN, JIA_AGENT = "wwjia00001", "jia-secret", "jia-token", 1000003
JIA_AES = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")
YI_KEY, YI_SECRET, YI_CORP = "dingyikey01", "yi-dingtalk-secret", "dingyicorp"
JIA_BOT, JIA_BOT_SECRET = "aibjia0001", "jia-bot-secret"


@contextmanager
def park(app: str, enterprise_url, *, yi_mode: str = "http", jia_ws: bool = False):
    """Start 甲's WeCom and 乙's DingTalk, add both enterprises with the sample org and give each its app.

    jia_ws: 甲's WeCom reaches the plant through its smart robot's long connection, held here as its own
    `python app.py --enterprise jia wecom-ws` would hold it.
    """
    from handlers.cli.dingtalk_setup import register_card_route
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    people = {p.wecom_userid: p.name for p in Person.select() if p.wecom_userid}
    stream = socket = None
    jia_base, stop_jia = run_in_thread(create_wecom_sandbox(
        corp_id=JIA_CORP, corp_secret=JIA_SECRET, agent_id=JIA_AGENT, token=JIA_TOKEN, aes_key=JIA_AES,
        users=list(people), **({"bot_id": JIA_BOT, "bot_secret": JIA_BOT_SECRET} if jia_ws else {})))
    yi_base, stop_yi = run_dingtalk_sandbox(create_dingtalk_sandbox(
        app_key=YI_KEY, app_secret=YI_SECRET, corp_id=YI_CORP, robot_code=YI_KEY, users=list(people), names=people))
    try:
        enterprise("jia", enterprise_url("jia"))
        enterprise("yi", enterprise_url("yi"))
        jia_mode = requests.post(f"{jia_base}/sandbox/config", json={"callback_url": f"{app}/wecom/callback",
                                                                      "mode": "ws" if jia_ws else "callback"},
                                 timeout=10).json()
        robot = {"WECOM_MODE": "ws", "WECOM_BOT_ID": JIA_BOT, "WECOM_BOT_SECRET": JIA_BOT_SECRET,
                 "WECOM_WS_URL": jia_mode["ws_url"]} if jia_ws else {}
        assert enterprises.set_chat("jia", {
            "WECOM_CORP_ID": JIA_CORP, "WECOM_AGENT_ID": str(JIA_AGENT), "WECOM_SECRET": JIA_SECRET,
            "WECOM_TOKEN": JIA_TOKEN, "WECOM_AES_KEY": JIA_AES, "WECOM_API_BASE": jia_base,
            "WECOM_OAUTH_BASE": jia_base, "WECOM_JSSDK_URL": f"{jia_base}/sandbox/jssdk.js", **robot}) == ["wecom"]
        assert enterprises.set_chat("yi", {
            "DINGTALK_APP_KEY": YI_KEY, "DINGTALK_APP_SECRET": YI_SECRET, "DINGTALK_CORP_ID": YI_CORP,
            "DINGTALK_MODE": yi_mode, "DINGTALK_API_BASE": yi_base, "DINGTALK_OAPI_BASE": yi_base,
            "DINGTALK_LOGIN_BASE": yi_base, "DINGTALK_JSSDK_URL": f"{yi_base}/sandbox/jssdk.js"}) == ["dingtalk"]
        requests.post(f"{yi_base}/sandbox/config", json={"mode": yi_mode, "card_callback_url": f"{app}/dingtalk/card",
                                                         "robot_callback_url": f"{app}/dingtalk/robot"}, timeout=10)
        # 甲's WeCom checks the callback URL with 甲's token: the deployment answers for 甲's app.
        assert requests.post(f"{jia_base}/sandbox/verify", timeout=10).json()["ok"] is True
        if jia_ws:
            with enterprises.entered("jia"):
                socket = ws_connection(jia_base)
        with enterprises.entered("yi"):
            if yi_mode == "http":
                register_card_route()   # as `python app.py --enterprise yi dingtalk-setup` does
            else:   # as `python app.py --enterprise yi dingtalk-stream` does
                stream = stream_connection(yi_base, api_base=yi_base)
        jia = WsPhone(jia_base, app, settle=lambda msgid: socket.wait_handled({msgid})) if jia_ws else Phone(jia_base, app)
        yield jia, DingTalkPhone(yi_base, app)
    finally:
        if socket is not None:
            socket.stop()
        if stream is not None:
            stream.stop()
        stop_jia()
        stop_yi()


def books(code: str | None) -> tuple[int, int, int]:
    """What a callback could have left in a database: events kept, audit events, messages queued."""
    with enterprises.entered(code) if code else nullcontext():
        return InboxEvent.select().count(), AuditEvent.select().count(), Outbox.select().count()


def went(answer: dict) -> bool:
    """Tell whether the app took a phone's action: HTTP 200 for a callback, a frame pushed over a socket."""
    return answer.get("status") == 200 or bool(answer.get("frame"))


def planned(phone, drain, code: str) -> Permit:
    """Apply in chat as 朱岩 and have 郑计 confirm the plan, all in the enterprise's own app; return the permit."""
    assert went(phone.text("zhuyan", apply_text()))
    drain()
    with enterprises.entered(code):
        permit = Permit.get()
    card = phone.open_card("zhengji", f"{permit.no}-plan-")
    assert card is not None, phone.messages("zhengji")
    assert went(phone.click("zhengji", card))
    drain()
    with enterprises.entered(code):
        return Permit.get()


@pytest.mark.parametrize("yi_mode", ["http", "stream"])
def test_two_enterprises_each_move_a_permit_in_their_own_app_and_every_cross_access_is_refused(world, enterprise_url,
                                                                                             yi_mode):
    home, drain, _ = world
    with park(home.app, enterprise_url, yi_mode=yi_mode) as (jia, yi):
        jia_permit, yi_permit = planned(jia, drain, "jia"), planned(yi, drain, "yi")
        for code, permit, channel in (("jia", jia_permit, "wecom"), ("yi", yi_permit, "dingtalk")):
            with enterprises.entered(code):
                assert [(s.step.key, s.channel) for s in Signature.select()] == [("plan", channel)]
                assert permit.state == "in_approval"
        # Each enterprise's cards went out through its own app, none through the deployment's.
        assert home.messages("zhengji") == [] and not Permit.select().exists()
        before = {code: books(code) for code in (None, "jia", "yi")}

        # A corp nobody here has: refused before anything is read or stored.
        nobody = b"<xml><ToUserName><![CDATA[wwnobody]]></ToUserName><Encrypt><![CDATA[x]]></Encrypt></xml>"
        assert requests.post(f"{home.app}/wecom/callback", data=nobody, timeout=10).status_code == 403
        stamp = str(int(time.time() * 1000))
        robot = {"msgtype": "text", "text": {"content": "待办"}, "conversationType": "1", "senderStaffId": "zhengji",
                 "chatbotCorpId": "dingnobody", "msgId": "m-1", "createAt": int(stamp)}
        answer = requests.post(f"{home.app}/dingtalk/robot", json=robot, timeout=10,
                               headers={"timestamp": stamp, "sign": dingtalk_sign(stamp, YI_SECRET)})
        assert answer.status_code == 403
        # 乙's corp named on a message signed with the deployment's secret: 乙's app refuses it.
        answer = requests.post(f"{home.app}/dingtalk/robot", json={**robot, "chatbotCorpId": YI_CORP}, timeout=10,
                               headers={"timestamp": stamp, "sign": dingtalk_sign(stamp, APP_SECRET)})
        assert answer.status_code in (400, 401, 403) and "Traceback" not in answer.text
        # 甲's corp on an envelope sealed with the deployment's keys: 甲's keys cannot open it.
        params, body = Callbacks(token=TOKEN, aes_key=AES_KEY, corp_id=CORP, agent_id=AGENT).seal(
            "<xml><ToUserName><![CDATA[x]]></ToUserName><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[待办]]></Content><FromUserName><![CDATA[zhengji]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgId>99</MsgId></xml>", time.time())
        body = body.replace(CORP.encode(), JIA_CORP.encode())
        answer = requests.post(f"{home.app}/wecom/callback", params=params, data=body, timeout=10)
        assert 400 <= answer.status_code < 500 and "Traceback" not in answer.text
        assert {code: books(code) for code in (None, "jia", "yi")} == before

        # Pages: a board link issued in 甲 opens on 甲's database; with 乙's code (乙 has a permit of the same
        # number) or none, or an unknown one, it is a bare 404.
        with enterprises.entered("jia"):
            board = links.url(jia_permit)
        assert "?t=jia." in board and "t=jia." in str(jia.messages("zhengji"))   # as the cards carried it
        page = requests.get(board, timeout=10)
        assert page.status_code == 200 and jia_permit.no in page.text
        assert jia_permit.no == yi_permit.no   # numbered in each enterprise's own database
        for forged in (board.replace("t=jia.", "t=yi."), board.replace("t=jia.", "t="),
                       board.replace("t=jia.", "t=bing.")):
            assert requests.get(forged, timeout=10).status_code == 404, forged

        # An area's board, whose link 甲 prints for its entrance: the same area of 乙 or of the deployment (the
        # same sample plant, the same ids and names) is not what it opens.
        with enterprises.entered("jia"):
            area = Area.get(Area.id == jia_permit.area_id)
            posted = area_board.url(area)
        assert "?a=jia." in posted and requests.get(posted, timeout=10).status_code == 200
        for forged in (posted.replace("a=jia.", "a=yi."), posted.replace("a=jia.", "a=")):
            assert requests.get(forged, timeout=10).status_code == 404, forged

        # The site's QR code of each enterprise's permit: scanned in that enterprise's app, proved through its
        # OAuth, and the check-in written in its database alone.
        for code, phone, permit in (("jia", jia, jia_permit), ("yi", yi, yi_permit)):
            with enterprises.entered(code):
                assert phone.scan("chuwei", permit.no) == 200
                assert [c.person.name for c in CheckIn.select()] == ["褚卫"]
        assert not CheckIn.select().exists()

        # The API: each enterprise's token sees its own permit, signed in its own app, and no other's.
        for code, channel in (("jia", "wecom"), ("yi", "dingtalk")):
            auth = {"Authorization": f"Bearer {tokens.create(f'{code}看板', 'read', enterprise=code)}"}
            listed = requests.get(f"{home.app}/api/v1/permits", headers=auth, timeout=10).json()["items"]
            assert len(listed) == 1
            one = requests.get(f"{home.app}/api/v1/permits/{listed[0]['no']}", headers=auth, timeout=10).json()
            assert [s["channel"] for s in one["signatures"]] == [channel]

        # An emergency raised in 甲: its muster page's link opens on 甲's database alone.
        with enterprises.entered("jia"):
            raised = stop.raise_emergency("3#罐区 东侧法兰泄漏", by=find_person("sunli")).emergency
            page = muster.url(raised)
        assert "?t=jia." in page and "人员清点" in requests.get(page, timeout=10).text
        for forged in (page.replace("t=jia.", "t=yi."), page.replace("t=jia.", "t=")):
            assert requests.get(forged, timeout=10).status_code == 404, forged


def test_an_enterprises_photos_tool_labels_meeting_codes_and_selfie_links_stay_its_own(world, tmp_path,
                                                                                     enterprise_url):
    """An enterprise's photos are kept in its own folder. Each signed page beside the permit's board (a
    tool's QR label, a pre-shift meeting's code, a face check's selfie link) names the enterprise it was
    issued in: opened in that enterprise's app it works on that enterprise's database, and with another
    enterprise's code or none it is a bare 404."""
    from exports.tool_import import COLUMNS, TOOLS, load_tools
    from faces import live
    from meetings import links as meeting_links
    from models.meeting import Meeting, MeetingAttendee
    from models.tool import Tool
    from openpyxl import Workbook
    from tools import labels
    from workflow import machine

    home, drain, _ = world
    book = Workbook()
    book.active.title = TOOLS
    book.active.append(COLUMNS)
    book.active.append(("GJ-0001", "便携式气体检测仪", 12, f"{time.strftime('%Y-%m-%d')}", "sunli", 8))
    book.save(tmp_path / "tools.xlsx")
    with park(home.app, enterprise_url) as (jia, yi):
        for code in ("jia", "yi"):   # the same register in both: the same tool number, two tools
            with enterprises.entered(code):
                load_tools(tmp_path / "tools.xlsx")
        jia_permit = planned(jia, drain, "jia")

        # A photo sent in 甲's WeCom is kept in 甲's own folder of the instance, which its archive carries.
        jia.text("zhuyan", f"照片 {jia_permit.no} 现场")
        drain()
        jia.photo("zhuyan", tiny_png(77), "site.png")
        drain()
        with enterprises.entered("jia"):
            photo = Attachment.get()
            assert (enterprises.media_folder() / photo.path).is_file()
        assert enterprises.media_folder() == settings.current().instance_path
        assert not (settings.current().instance_path / photo.path).exists()

        # A tool's label: scanned in 甲's WeCom, the loan is written in 甲's database alone.
        with enterprises.entered("jia"):
            label = labels.url(Tool.get(Tool.no == "GJ-0001"), base_url=home.app)
            page = jia.tool("chenjian", "GJ-0001", "out")
            assert page.status_code == 200 and "领用成功" in page.text
            assert Tool.get(Tool.no == "GJ-0001").holder.name == "陈检"
        assert "?k=jia." in label
        with enterprises.entered("yi"):
            assert Tool.get(Tool.no == "GJ-0001").holder is None
        for forged in (label.replace("k=jia.", "k=yi."), label.replace("k=jia.", "k="),
                       label.replace("k=jia.", "k=bing.")):
            assert requests.get(forged, timeout=10).status_code == 404, forged

        # The work leader holds the day's meeting in 甲's chat; its code checks the crew in on 甲's database.
        assert jia.text("jianghan", "班前会")["status"] == 200
        drain()
        with enterprises.entered("jia"):
            meeting = Meeting.get()
            place = meeting_links.url(meeting, "place", base_url=home.app)
            page = jia.meeting("shenli", meeting.id)
            assert page.status_code == 200 and "签到成功" in page.text
            assert [a.person.name for a in MeetingAttendee.select().where(MeetingAttendee.checked_in_at.is_null(False))] \
                == ["沈力"]
        assert "?m=jia." in place and "v=jia." in str(jia.messages("shenli"))   # as the card carried it
        with enterprises.entered("yi"):
            assert not Meeting.select().exists()
        for forged in (place.replace("m=jia.", "m=yi."), place.replace("m=jia.", "m=")):
            assert requests.get(forged, timeout=10).status_code == 404, forged

        # A selfie link issued in 甲 for the step now waiting: it opens there, and as 乙's or the deployment's
        # it is forged (the person and permit it names mean others there).
        with enterprises.entered("jia"):
            step = machine.active_step(Permit.get_by_id(jia_permit.id))
            person = machine.assignees(step)[0]
            link = live.url(person, jia_permit, step)
        assert link.endswith("?e=jia")
        assert requests.get(link, timeout=10).status_code in (200, 409)
        for forged in (link.replace("?e=jia", "?e=yi"), link.removesuffix("?e=jia"), link.replace("?e=jia", "?e=bing")):
            assert requests.get(forged, timeout=10).status_code == 404, forged


def test_an_enterprises_wecom_robot_holds_its_own_long_connection(world, enterprise_url):
    """甲 on WeCom's smart robot: its chat arrives over 甲's socket, is kept in 甲's database, and its cards go
    back over that socket; no other enterprise may take the same robot."""
    home, drain, _ = world
    with park(home.app, enterprise_url, jia_ws=True) as (jia, _yi):
        permit = planned(jia, drain, "jia")
        with enterprises.entered("jia"):
            assert [(s.step.key, s.channel) for s in Signature.select()] == [("plan", "wecom_ws")]
            assert Permit.get().no == permit.no and permit.state == "in_approval"
        assert not Permit.select().exists() and home.messages("zhengji") == []
        sent = [r for r in requests.get(f"{jia.base}/sandbox/ws", timeout=5).json()["received"]
                if r["frame"].get("cmd") in ("aibot_send_msg", "aibot_respond_update_msg")]
        assert sent and all(r["answer"]["errcode"] == 0 for r in sent)

        with pytest.raises(enterprises.EnterpriseError, match="智能机器人 aibjia0001 已由“jia化工”使用"):
            enterprises.set_chat("yi", {
                "WECOM_CORP_ID": "wwyi000001", "WECOM_AGENT_ID": "1000004", "WECOM_SECRET": "yi-secret",
                "WECOM_TOKEN": "yi-token", "WECOM_AES_KEY": JIA_AES, "WECOM_MODE": "ws",
                "WECOM_BOT_ID": JIA_BOT, "WECOM_BOT_SECRET": "another"})


def test_a_full_permit_closes_in_each_enterprises_own_app_and_each_ledger_holds_its_own(world, enterprise_url):
    """A permit from application to close in 甲 on WeCom and in 乙 on DingTalk; each admin's ledger, asked
    for in chat, holds that enterprise's permit alone (both numbered alike, told apart by their place)."""
    import io
    from openpyxl import load_workbook
    from handlers.demo.scripted import take_through
    from workflow import audit
    from workflow.clock import local

    home, drain, _ = world
    with park(home.app, enterprise_url) as (jia, yi):
        places = {"jia": "3#罐区东侧管廊", "yi": "常减压装置 V-101"}
        jia_permit = planned(jia, drain, "jia")
        yi.text("zhuyan", apply_text().replace(places["jia"], places["yi"]))
        drain()
        for code, phone, platform, media in (("jia", jia, "wecom", "media"), ("yi", yi, "dingtalk", "dingtalk-media")):
            with enterprises.entered(code):
                permit = Permit.get()
                assert take_through(phone, permit.no, drain).state == "closed"
                assert {s.channel for s in Signature.select()} == {platform} and audit.verify().ok
                month = f"{local(permit.planned_start, settings.current().plant_tz):%Y-%m}"
            phone.text("lvming", f"导出 台账 {month}")
            drain()
            [sent] = [m for m in phone.messages("lvming") if m["msgtype"] == "file"]
            data = requests.get(f"{phone.base}/sandbox/{media}/{sent['content']['media_id']}", timeout=10).content
            ledger = load_workbook(io.BytesIO(data))["作业票台账"]
            rows = [r for r in ledger.iter_rows(min_row=4, values_only=True) if r[0]]
            assert [r[0] for r in rows] == [jia_permit.no] and places[code] in str(rows[0])
            assert places["yi" if code == "jia" else "jia"] not in str(rows[0])
        assert not Permit.select().exists() and home.messages("lvming") == []
