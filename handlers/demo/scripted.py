"""People acting through the platform sandbox, for `demo --scripted` and the real-path tests.

Everything goes over HTTP to the sandbox, which posts real encrypted callbacks to the app: a
person types, sends a photo, or clicks a button on the card they actually received. The on-site
check-in is a scan: the phone opens the site QR code's link as the WeCom client does, the board
sends it through the sandbox's OAuth page, and the person taps 现场签到 on the board.
"""
from __future__ import annotations

import json
import re
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from typing import Callable

import requests

from models import Signature, Step
from models.permit import Permit
from workflow import machine, onsite, template as templates
from workflow.states import CLOSED

GOOD_AIR = "O2=20.9 EX=0 H2S=0 CO=0"
# The WeCom client's browser says so in its User-Agent; the board takes that as "opened in WeCom".
WECOM_BROWSER = ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Mobile Safari/537.36 wxwork/4.1.30 MicroMessenger/7.0.1")
# DingTalk's built-in browser names itself in its User-Agent the same way.
DINGTALK_BROWSER = ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Mobile Safari/537.36 AliApp(DingTalk/7.6.10) com.alibaba.android.rimet")
MARK_FORM = re.compile(r'<form method="post" action="([^"]+)" class="mark"')
LOAN_FORM = re.compile(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="action" value="(\w+)">')
JSAPI = re.compile(r'<script type="application/json" id="jsapi">(.*?)</script>', re.S)
CLEAN = {"O2": 20.9, "EX": 0.0, "H2S": 0.0, "CO": 0.0}


class Detector:
    """A gas detector posting signed readings to the app's webhook, as the device would."""

    def __init__(self, app_base: str, code: str, secret: str, interval: float = 10.0,
                 gases: list[str] | None = None):
        self.url, self.code, self.secret, self.interval = f"{app_base}/sensors/readings", code, secret, interval
        self.values = {gas: CLEAN.get(gas, 0.0) for gas in gases} if gases else dict(CLEAN)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Re-entrant so that change() can hold it across setting the air and posting it.
        self._posting = threading.RLock()
        self._last = 0

    def post(self, values: dict | None = None) -> requests.Response:
        """Post one reading now (values, or the detector's current air)."""
        from sensors.intake import sign
        with self._posting:
            # Readings are stamped to the second, and a second reading in the same second would
            # be refused as a replay of the first: a real detector never reports twice a second.
            while int(time.time()) <= self._last:
                time.sleep(0.05)
            self._last = int(time.time())
            reading = {"device": self.code, "values": values or self.values,
                       "ts": datetime.fromtimestamp(self._last, timezone.utc).isoformat()}
            body = json.dumps(reading).encode()
            stamp = str(self._last)
            return requests.post(self.url, data=body, timeout=10, headers={
                "Content-Type": "application/json", "X-Timestamp": stamp,
                "X-Signature": sign(self.secret, stamp, body)})

    def change(self, values: dict) -> requests.Response:
        """Change the air and post it at once, before the background loop can report the new air first.

        A story that reads the answer (the alarm it raised) needs its own post to be the first with
        the new values; the loop's next post then repeats them, as a real detector does.
        """
        with self._posting:
            self.values = dict(values)
            return self.post()

    def start(self) -> None:
        """Report the current air every interval from a background thread, as a device does."""
        def loop():
            while not self._stop.wait(self.interval):
                try:
                    self.post()
                except requests.RequestException:
                    continue   # the app is busy or restarting: the next interval tries again
        self._thread = threading.Thread(target=loop, name=f"detector-{self.code}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def tiny_png(shade: int = 200) -> bytes:
    """Return a real 8×8 grey PNG, the smallest photo a platform accepts as an image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([shade]) * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Phone:
    """The WeCom sandbox as the plant's people see it; app_url is where a scanned site QR code leads."""

    platform = "wecom"
    browser = WECOM_BROWSER

    def __init__(self, base_url: str, app_url: str):
        self.base, self.app = base_url.rstrip("/"), app_url.rstrip("/")

    def account(self, person) -> str:
        """Return person's account on this phone's platform."""
        return person.wecom_userid

    def site_code(self, permit_no: str) -> str:
        """Return what the QR code posted at the permit's work site holds (its signed site link)."""
        from cards import links
        return links.url(Permit.get(Permit.no == permit_no), "site", base_url=self.app)

    def open_code(self, user: str, url: str) -> tuple[requests.Session, requests.Response]:
        """Scan a QR code holding url with user's WeCom: the phone view's 扫一扫, redirects followed."""
        browser = requests.Session()
        browser.headers["User-Agent"] = self.browser
        page = browser.get(f"{self.base}/phone/{user}/scan", params={"url": url}, timeout=10)
        return browser, page

    def visit(self, user: str, permit_no: str, action: str = "in", *, at: str | None = "site") -> requests.Response:
        """Scan the site QR code and tap 现场签到 (action "in") or 离开现场 ("out"); return the last page.

        at="site": the person walks to the permit's site first (their phone's GPS is there); None: the
        phone stays where it is. The page's position comes from the JS-SDK call, made as the page makes it.
        """
        if at == "site":
            self.walk_to_site(user, permit_no)
        browser, page = self.open_code(user, self.site_code(permit_no))
        forms = MARK_FORM.findall(page.text) if page.status_code == 200 else []
        if not forms:
            return page
        # Both buttons post to the same form action; the hidden action field says which.
        return browser.post(requests.compat.urljoin(page.url, forms[0].replace("&amp;", "&")),
                            data={"action": action, **self.located(browser, page)},
                            headers={"Origin": f"{self.app}"}, timeout=10)

    def place(self, user: str, latitude: float | None, longitude: float | None = None,
              accuracy: float = 15.0, mock: bool = False) -> None:
        """Put user's phone at a WGS-84 position (None: no fix, as with location turned off); mock: the
        position comes from a mock-location app."""
        self._post("/sandbox/location", json={"user": user, "latitude": latitude, "longitude": longitude,
                                              "accuracy": accuracy, "mock": mock})

    def walk_to_site(self, user: str, permit_no: str) -> None:
        """Put user's phone at the centre of the permit's site fence, where one is set."""
        from workflow import places
        fence = places.fence_of(Permit.get(Permit.no == permit_no))
        if fence is not None:
            self.place(user, fence.latitude, fence.longitude)

    def located(self, browser: requests.Session, page: requests.Response) -> dict:
        """Return the position fields the board's script fills in: the JS-SDK's answer, or nothing."""
        found = JSAPI.search(page.text)
        if not found:
            return {}
        js = json.loads(found.group(1))
        ask = {"type": "wgs84"} if js["sdk"] == "wecom" else {"coordinate": 1}
        answer = browser.post(f"{self.base}/sandbox/jsapi/location", timeout=10,
                              data=json.dumps({"config": js["config"], "url": page.url.split("#")[0], **ask}))
        where = answer.json()
        if where.get("errMsg", "getLocation:ok") != "getLocation:ok" or where.get("errorCode"):
            return {}
        return {"latitude": where["latitude"], "longitude": where["longitude"], "accuracy": where["accuracy"],
                "datum": js["datum"], "mock": "1" if where.get("isFromMock") else ""}

    def selfie(self, user: str, link: str, photo: bytes, *, at: float | None = None) -> requests.Response:
        """Open a selfie link in user's chat app and shoot photo with its camera, as the page's script does.

        at: the Unix time the camera's clock shows as it shoots (None: the platform's now). Returns the
        app's answer to the upload, or the page when it offers no camera.
        """
        import base64
        self._post("/sandbox/camera", json={"user": user, "photo": base64.b64encode(photo).decode(), "at": at})
        browser, page = self.open_code(user, link)
        found = JSAPI.search(page.text)
        if page.status_code != 200 or not found:
            return page
        js, url = json.loads(found.group(1)), page.url.split("#")[0]
        call = lambda api, **args: browser.post(f"{self.base}/sandbox/jsapi/{api}", timeout=10,  # noqa: E731
                                                data=json.dumps({"config": js["config"], "url": url, **args})).json()
        if js["sdk"] == "wecom":
            chosen = call("chooseImage", sourceType=["camera"])
            media = call("uploadImage", localId=chosen["localIds"][0])["serverId"]
        else:
            media = call("biz.util.uploadImageFromCamera", compression=True)["result"][0]
        return browser.post(url, json={"platform": js["sdk"], "media": media, "source": "camera",
                                       "captured_ms": int(time.time() * 1000)},
                            headers={"Origin": self.app}, timeout=10)

    def tool(self, user: str, no: str, action: str | None = None) -> requests.Response:
        """Scan a tool's QR label; with action ("out" 领用, "in" 归还), tap the button the page offers for it."""
        from models.tool import Tool
        from tools import labels
        browser, page = self.open_code(user, labels.url(Tool.get(Tool.no == no), base_url=self.app))
        forms = LOAN_FORM.findall(page.text) if action else []
        if not forms or forms[0][1] != action:
            return page
        return browser.post(requests.compat.urljoin(page.url, forms[0][0].replace("&amp;", "&")),
                            data={"action": action}, headers={"Origin": f"{self.app}"}, timeout=10)

    def meeting(self, user: str, meeting_id: int) -> requests.Response:
        """Scan the pre-shift meeting's code at its place: the page the OAuth round trip ends on."""
        from meetings import links
        from models.meeting import Meeting
        _browser, page = self.open_code(user, links.url(Meeting.get_by_id(meeting_id), "place", base_url=self.app))
        return page

    def scan(self, user: str, permit_no: str) -> int:
        """Check in at the permit's work site by scanning its QR code; return the final HTTP status."""
        page = self.visit(user, permit_no)
        return page.status_code if "签到成功" in page.text or page.status_code != 200 else 409

    def text(self, user: str, content: str) -> dict:
        return self._post("/sandbox/text", json={"user": user, "content": content})

    def photo(self, user: str, data: bytes, filename: str = "photo.png") -> dict:
        return self._post("/sandbox/image", data={"user": user},
                          files={"media": (filename, data, "image/png")})

    def messages(self, user: str) -> list[dict]:
        answer = requests.get(f"{self.base}/sandbox/messages", params={"user": user}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def open_card(self, user: str, task_prefix: str) -> dict | None:
        """Return the newest card of user's whose task id starts so and that still has buttons."""
        for message in reversed(self.messages(user)):
            if (message.get("task_id") or "").startswith(task_prefix) and message["state"]["interactive"]:
                return message
        return None

    def click(self, user: str, message: dict, *, button: int = 0, repeat: int = 1,
              ticks: list[int] | None = None) -> dict:
        """Click a button of the card (a checklist card: tick every item, or those at ticks, then submit)."""
        card = message["state"]["card"]
        body = {"user": user, "task_id": message["task_id"], "repeat": repeat}
        if card["card_type"] == "vote_interaction":
            box = card["checkbox"]
            options = [o["id"] for i, o in enumerate(box["option_list"]) if ticks is None or i in ticks]
            body |= {"key": card["submit_button"]["key"], "selected": {box["question_key"]: options}}
        else:
            body["key"] = card["button_list"][button]["key"]
        return self._post("/sandbox/click", json=body)

    def label(self, message: dict) -> str:
        """Return what clicking the card's first button does, in words (for the demo's narration)."""
        card = message["state"]["card"]
        if card["card_type"] == "vote_interaction":
            return f"逐项勾选 {len(card['checkbox']['option_list'])} 项并{card['submit_button']['text']}"
        return card["button_list"][0]["text"]

    def buttons(self, message: dict) -> list[str]:
        """Return the labels of a card's buttons."""
        card = message["state"]["card"]
        if card["card_type"] == "vote_interaction":
            return [card["submit_button"]["text"]]
        return [b["text"] for b in card.get("button_list", [])]

    def _post(self, path: str, **kwargs) -> dict:
        answer = requests.post(f"{self.base}{path}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json()


class DingTalkPhone(Phone):
    """The DingTalk sandbox as the plant's people see it: the robot's one-to-one chat and its cards."""

    platform = "dingtalk"
    browser = DINGTALK_BROWSER

    def account(self, person) -> str:
        return person.dingtalk_userid

    def click(self, user: str, message: dict, *, button: int = 0, repeat: int = 1,
              ticks: list[int] | None = None) -> dict:
        """Click a button of the card (a checklist card: tick every item, or those at ticks, then the first button)."""
        card = message["state"]["card"]
        body = {"user": user, "task_id": message["task_id"], "repeat": repeat,
                "key": card["buttons"][button]["id"]}
        if card["kind"] == "checklist":
            body["selected"] = [item["id"] for i, item in enumerate(card["checklist"]) if ticks is None or i in ticks]
        return self._post("/sandbox/click", json=body)

    def label(self, message: dict) -> str:
        card = message["state"]["card"]
        if card["kind"] == "checklist":
            return f"逐项勾选 {len(card['checklist'])} 项并{card['buttons'][0]['text']}"
        return card["buttons"][0]["text"]

    def buttons(self, message: dict) -> list[str]:
        return [b["text"] for b in message["state"]["card"]["buttons"]]


class WsPhone(Phone):
    """The WeCom sandbox when the app holds the robot's long connection: the same chats, clicks go as frames.

    A frame is handled by whichever process holds the socket, after the sandbox has answered; with
    settle (msgid -> None), each action returns only once that process has handled its frame.
    """

    platform = "wecom_ws"

    def __init__(self, base_url: str, app_url: str, *, settle: Callable[[str], None] | None = None):
        super().__init__(base_url, app_url)
        self.settle = settle

    def _post(self, path: str, **kwargs) -> dict:
        answer = super()._post(path, **kwargs)
        msgid = ((answer.get("frame") or {}).get("body") or {}).get("msgid")
        if self.settle is not None and msgid:
            self.settle(msgid)
        return answer


class MixedPhone:
    """Both sandboxes at once: each person acts on the platform their cards go to."""

    def __init__(self, *phones: Phone):
        self.phones = {phone.platform: phone for phone in phones}
        self._by_account: dict[str, Phone] = {}
        self.app = phones[0].app

    def account(self, person) -> str:
        from bot.registry import platform_for
        phone = self.phones[platform_for(person)]
        user = phone.account(person)
        self._by_account[user] = phone
        return user

    def of(self, user: str) -> Phone:
        return self._by_account[user]

    def _reading(self, message: dict) -> Phone:
        if message["msgtype"] == "interactive_card":
            return self.phones["dingtalk"]
        return next(phone for name, phone in self.phones.items() if name.startswith("wecom"))

    def label(self, message: dict) -> str:
        return self._reading(message).label(message)

    def buttons(self, message: dict) -> list[str]:
        return self._reading(message).buttons(message)

    def __getattr__(self, name):
        # text, photo, messages, open_card, click, scan, visit: all take the account first.
        def on_the_right_phone(user, *args, **kwargs):
            return getattr(self.of(user), name)(user, *args, **kwargs)
        return on_the_right_phone


def _take_tools(phone: Phone, permit: Permit, d, person, say: Callable[[str], None]) -> None:
    """Have person (else the first worker) scan out, for each tool kind the step names, the first free tool in test."""
    from models import utcnow
    from models.tool import Tool
    from tools import loans
    if not d.gates.tools or not Tool.in_force():
        return
    crew = machine.members(permit, "作业人")
    person = person or (crew[0] if crew else permit.applicant)
    now = utcnow()
    for kind in d.gates.tools:
        if not loans.problems(permit, kinds=(kind,), person=person, at=now):
            continue
        free = [t for t in Tool.select().where((Tool.kind == kind) & Tool.holder.is_null()).order_by(Tool.no)
                if not loans.expired(t, now)]
        if free and phone.tool(phone.account(person), free[0].no, "out").status_code == 200:
            say(f"  {'领用工器具':<12} {person.name} 扫码领用{kind} {free[0].no}")


def take_through(phone: Phone, permit_no: str, drain: Callable[[], None],
                 say: Callable[[str], None] = lambda line: None, *, until: str = CLOSED,
                 pause_at: dict[str, Callable] | None = None, detector: Detector | None = None) -> Permit:
    """Act as whoever's turn it is, on their phone, until the permit reaches state until.

    pause_at = {step key: callback}: call back once when that step comes up, before anyone acts.
    detector: bound by the gas tester at the start and made to report (needed where the permit
    demands continuous monitoring).
    """
    waiting = dict(pause_at or {})
    for _ in range(60):
        permit = Permit.get(Permit.no == permit_no)
        if permit.state == until:
            return permit
        step = machine.active_step(permit)
        if step.key in waiting:
            waiting.pop(step.key)(step)
            continue   # the callback may have moved the permit on (or suspended it)
        d = templates.get(permit.work_type).step(step.key)
        people = machine.assignees(step)
        if d.kind == "gas":
            tester = people[0]
            _take_tools(phone, permit, d, tester, say)
            phone.text(phone.account(tester), f"气体检测 {permit_no} {GOOD_AIR}")
            say(f"  {step.name:<12} {tester.name} 在聊天中发送气体检测数据")
            drain()
            continue
        if d.phase == "start":
            prepare_start(phone, permit, drain, say, detector=detector)
            from meetings import preshift
            from models import utcnow
            if preshift.problems(permit, at=utcnow()):   # the plant wants the crew's 班前会 first
                meet(phone, permit, drain, say)
        else:
            _photos(phone, permit, d, step, drain, say)
        # Who signed already is done: a step's signers can grow after its first ones signed (when a
        # frame is handled by another process, this loop may see the step before they are added).
        signed = {p for (p,) in Signature.select(Signature.person).where(
            (Signature.step == step) & (Signature.round == step.round)).tuples()}
        for person in [p for p in people if p.id not in signed] if d.mode == "all" else people[:1]:
            if d.onsite:
                _arrive(phone, permit_no, [("", person)], say)
            user = phone.account(person)
            card = phone.open_card(user, f"{permit_no}-{step.key}-r{step.round}-")
            if card is None:
                raise RuntimeError(f"{person.name} has no open card for {permit_no} {step.name}")
            answer = phone.click(user, card)
            say(f"  {step.name:<12} {person.name} 点击“{phone.label(card)}” → {_answer(answer)}")
            drain()
    raise RuntimeError(f"{permit_no} never reached {until}")


def _photos(phone: Phone, permit: Permit, d, step: Step, drain: Callable[[], None], say: Callable[[str], None]) -> None:
    """Send the photos the step names: the start's, and the finished site's at completion and acceptance."""
    for kind in d.gates.photos:
        applicant = phone.account(permit.applicant)
        if d.phase != "start":   # aimed: the applicant's newer permits may lack photos too
            phone.text(applicant, f"照片 {permit.no}")
            drain()
        before = len(phone.messages(applicant))
        phone.photo(applicant, tiny_png(), f"{kind}.png")
        drain()
        _await_answer(phone, applicant, before)
        if d.phase != "start":
            say(f"  {step.name:<12} {permit.applicant.name} 发送“照片 {permit.no}”和一张{kind}照片")


def prepare_start(phone: Phone, permit: Permit, drain: Callable[[], None], say: Callable[[str], None] = lambda line: None,
                  *, detector: Detector | None = None) -> None:
    """Do what the on-site start needs before its click: tools, photos, a fresh gas test, isolation, check-ins."""
    step = machine.active_step(permit)
    d = templates.get(permit.work_type).step(step.key)
    _take_tools(phone, permit, d, None, say)   # a worker takes the harness
    _photos(phone, permit, d, step, drain, say)
    if d.gates.gas_fresh:
        tester_step = Step.get((Step.permit == permit) & (Step.phase == "gas"))
        tester = machine.assignees(tester_step)[0]
        phone.text(phone.account(tester), f"气体检测 {permit.no} {GOOD_AIR}")
        drain()
        if detector is not None:
            phone.text(phone.account(tester), f"绑定检测仪 {permit.no} {detector.code}")
            drain()
            detector.post().raise_for_status()
            say(f"  {'连续监测':<12} {tester.name} 绑定检测仪 {detector.code}，检测仪上报合格读数")
    _isolate(phone, permit, drain, say)
    _arrive(phone, permit.no, onsite.people_in_roles(permit, d.gates.checkins), say)


def meet(phone: Phone, permit: Permit, drain: Callable[[], None], say: Callable[[str], None] = lambda line: None):
    """The work leader holds the day's pre-shift meeting in chat; each of the crew scans its code and confirms."""
    from meetings import preshift
    from models import utcnow
    from models.meeting import Meeting
    leader = onsite.work_leader(permit)
    phone.text(phone.account(leader), "班前会")
    drain()
    meeting = Meeting.get((Meeting.leader == leader) & (Meeting.day == preshift.today(utcnow())))
    say(f"  {'班前会':<12} {leader.name} 发送“班前会”，卡片列出 {'、'.join(p.no for p in preshift.permits_of(meeting))} "
        "的危害、措施和安全知识")
    for row in preshift.attendees(meeting):
        if row.confirmed_at is not None:
            continue
        user = phone.account(row.person)
        page = phone.meeting(user, meeting.id)
        if page.status_code != 200 or "签到成功" not in page.text:
            raise RuntimeError(f"{row.person.name} could not check in at the meeting")
        card = phone.open_card(user, f"meeting-{meeting.id}-")
        if card is None:
            raise RuntimeError(f"{row.person.name} has no meeting card")
        answer = phone.click(user, card)
        drain()
        say(f"  {'班前会':<12} {row.person.name}（{row.roles}）扫描班前会二维码签到，点击“确认参会” → {_answer(answer)}")
    return meeting


def _isolate(phone: Phone, permit: Permit, drain: Callable[[], None], say: Callable[[str], None]) -> None:
    """Where the type needs isolation and none is listed: lock out a valve in chat, the guardian verifies it."""
    from models.isolation import IsolationLink, IsolationPoint
    if not templates.get(permit.work_type).needs_isolation(permit.grade) or IsolationLink.select().where(
            (IsolationLink.permit == permit) & (IsolationLink.purpose == "depends")).exists():
        return
    applicant, guardian = permit.applicant, machine.members(permit, onsite.GUARDIAN)[0]
    valve = f"V-{permit.no}"
    phone.text(phone.account(applicant), f"隔离 {permit.no} {valve} 关阀上锁 L-{permit.id}")
    drain()
    point = IsolationPoint.get(IsolationPoint.tag == valve)
    card = phone.open_card(phone.account(guardian), f"isolation-{point.id}-verify-")
    if card is None:
        raise RuntimeError(f"{guardian.name} has no card to verify {valve}")
    phone.click(phone.account(guardian), card)
    drain()
    blind = (permit.attributes or {}).get("blind_no")
    named = IsolationLink.select().where((IsolationLink.permit == permit) & (IsolationLink.purpose != "depends"))
    if permit.work_type == "blind_plate" and blind and not named.exists():
        phone.text(phone.account(applicant), f"隔离 {permit.no} {blind} 加盲板 B-{permit.id}")
        drain()
    say(f"  {'能量隔离':<12} {applicant.name} 发送“隔离 {permit.no} {valve} 关阀上锁”，{guardian.name} 点击“确认隔离”")
def _await_answer(phone: Phone, user: str, before: int, timeout: float = 30.0) -> None:
    """Wait for the answer to a photo: a job fetches it and writes the answer, after the outbox looked empty."""
    deadline = time.monotonic() + timeout
    while len(phone.messages(user)) <= before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{user} got no answer to a photo")
        time.sleep(0.1)


def _arrive(phone: Phone, permit_no: str, people: list, say: Callable[[str], None]) -> None:
    """Have each (role, person) scan the site QR code and check in, as the next step demands."""
    for _role, person in people:
        if phone.scan(phone.account(person), permit_no) != 200:
            raise RuntimeError(f"{person.name} could not check in on site")
    if people:
        who = "、".join(f"{role} {p.name}".strip() for role, p in people)
        say(f"  {'现场签到':<12} {who} 扫描现场二维码签到")


def _answer(answer: dict) -> str:
    """How the click reached the app: an HTTP callback's status, or the Stream ACK's code."""
    if "frame" in answer:   # the long connection: the click went out as a frame on the robot's socket
        return "WS frame"
    return f"{'ACK' if 'message_id' in answer else 'HTTP'} {answer['status']}"
