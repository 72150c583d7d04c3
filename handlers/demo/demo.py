"""The demo: the app, a worker and both platform sandboxes on embedded defaults, on this machine."""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from dataclasses import dataclass

import requests
from flask import Flask

import settings
from models import Outbox, Person, StepAssignee
from models.permit import Permit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx"
KNOWLEDGE = ROOT / "exports" / "samples" / "knowledge"
COURSES = ROOT / "exports" / "samples" / "示例培训课程.xlsx"
SENSORS = ROOT / "exports" / "samples" / "示例检测仪.xlsx"
# Fixed credentials shared by the demo app and the sandbox; nothing real.
CREDENTIALS = {"WECOM_CORP_ID": "wwdemo0000000001", "WECOM_AGENT_ID": "1000002",
               "WECOM_SECRET": "demo-secret", "WECOM_TOKEN": "demo-token",
               "WECOM_AES_KEY": base64.b64encode(b"demo-aes-key-for-the-sandbox-32b").decode().rstrip("=")}
DINGTALK = {"DINGTALK_APP_KEY": "dingdemoappkey000001", "DINGTALK_APP_SECRET": "demo-dingtalk-secret",
            "DINGTALK_CORP_ID": "dingdemocorp0000001", "DINGTALK_MODE": "stream"}
PLATFORMS = ("wecom", "dingtalk", "mixed")
# WECOM_MODE=ws: WeCom through the smart robot's long connection, held by a `python app.py wecom-ws` process.
ROBOT = {"WECOM_BOT_ID": "aibdemo0000000001", "WECOM_BOT_SECRET": "demo-bot-secret"}


# The scripted demo shortens every step's time limit so that one can be seen to escalate:
# 基层单位审批's 60 minutes become 7 seconds, and the scheduler scans every second.
# It also shows a face-checked signature at 作业计划 where the shared test photos are beside the project.
FACES = ROOT.parent / "shared" / "testdata" / "faces"
SCRIPTED_FACES = {"FACE_CHECK_STEPS": "hot_work.plan"} if (FACES / "obama.jpg").exists() else {}
STORY_TIMERS = {"SCAN_EVERY_SECONDS": "1", "SCHEDULER_LOCK_SECONDS": "3", "QUIET_HOURS": "off"}
SCRIPTED_TIMERS = {**STORY_TIMERS, "STEP_LIMIT_FACTOR": "0.002", **SCRIPTED_FACES}


def robot_stand_in() -> None:
    """With WECOM_MODE=ws, give the demo the sandbox robot's id and secret (a real robot's are never needed)."""
    if (os.environ.get("WECOM_MODE") or "").lower() == "ws":
        os.environ.update(ROBOT)


@dataclass
class Demo:
    app: str
    wecom: str      # the WeCom sandbox (its phone view is {wecom}/phone)
    dingtalk: str   # the DingTalk sandbox ({dingtalk}/phone)
    on_ws: bool = False   # WeCom's clicks and cards travel the robot's long connection


@contextmanager
def running(create_app: Callable[[], Flask], *, port: int, sandbox_port: int, timers: dict | None = None,
            platform: str = "wecom", fresh_choices: bool = False):
    """Start both sandboxes, the app, its Stream connection, a worker and the scheduler; yield a Demo.

    create_app is the composition root's factory: the demo builds its app only once the sandboxes'
    addresses are in the environment, and the demo must not import the root that imports it.

    Everyone in the sample plant has a WeCom account; the demo gives each a DingTalk one as well
    (dt_<WeCom account>), so one person can follow a permit from either app. platform says where
    their cards go first: wecom, dingtalk, or mixed (alternating people between the two).
    fresh_choices forgets the app each person last used (kept in the database), as a story must.
    """
    from exports.org_import import load_org
    from exports.knowledge import load as load_knowledge
    from exports.sensor_import import load_sensors
    from models.schema import upgrade
    from training.workbook import load as load_courses
    from sandbox.dingtalk import create_dingtalk_sandbox, run_dingtalk_sandbox
    from sandbox.wecom import create_wecom_sandbox, run_in_thread
    # Ports: the WeCom sandbox on sandbox_port, DingTalk's on the next one (0: both ephemeral). Each
    # sandbox is all of its platform's hosts: the API, the classic oapi and the OAuth pages.
    on_ws = (os.environ.get("WECOM_MODE") or "").lower() == "ws"
    with ExitStack() as started:
        # Everything is stopped in reverse order however far the start got: a Ctrl-C while the
        # sample plant loads must not leave a sandbox or the embedded Redis behind.
        wecom_app = _sandbox(create_wecom_sandbox, [], robot=on_ws)
        gateway = wecom_app.extensions["wecom_sandbox"].gateway
        wecom_url, stop_wecom = run_in_thread(wecom_app, port=sandbox_port)
        started.callback(stop_wecom)
        if gateway is not None:
            started.callback(gateway.stop)
        dingtalk_url, stop_dingtalk = run_dingtalk_sandbox(_dingtalk_sandbox(create_dingtalk_sandbox),
                                                           port=sandbox_port + 1 if sandbox_port else 0)
        started.callback(stop_dingtalk)
        os.environ.update({**CREDENTIALS, **DINGTALK, **(timers or {}), "WECOM_API_BASE": wecom_url,
                           "WECOM_OAUTH_BASE": wecom_url, "DINGTALK_API_BASE": dingtalk_url,
                           "WECOM_JSSDK_URL": f"{wecom_url}/sandbox/jssdk.js",
                           "DINGTALK_JSSDK_URL": f"{dingtalk_url}/sandbox/jssdk.js",
                           "DINGTALK_OAPI_BASE": dingtalk_url, "DINGTALK_LOGIN_BASE": dingtalk_url,
                           "DEFAULT_PLATFORM": "dingtalk" if platform == "dingtalk" else "wecom",
                           **({**ROBOT, "WECOM_WS_URL": gateway.url} if on_ws else {})})
        app = create_app()
        upgrade()
        load_org(SAMPLE)
        load_sensors(SENSORS)
        load_knowledge(KNOWLEDGE)
        load_courses(COURSES)
        _everyone_on_dingtalk()
        if fresh_choices:
            # A story's platform is the one it was asked for, whatever an earlier run in this instance chose.
            Person.update(platform=None).execute()
        for url, column in ((wecom_url, "wecom_userid"), (dingtalk_url, "dingtalk_userid")):
            people = [(getattr(p, column), p.name) for p in Person.select() if getattr(p, column)]
            requests.post(f"{url}/sandbox/users", json={"users": [u for u, _ in people], "names": dict(people)},
                          timeout=10)
        app_url, stop_app = run_in_thread(app, port=port)
        started.callback(stop_app)
        os.environ["PUBLIC_BASE_URL"] = app_url
        settings.configure()   # links and QR codes made in this process name the port the app got
        requests.post(f"{wecom_url}/sandbox/config", json={"callback_url": f"{app_url}/wecom/callback",
                                                            "mode": "ws" if on_ws else "callback"}, timeout=10)
        from jobs.connection import redis, stop_embedded
        redis()  # start the embedded Redis here, so the worker process attaches to the same server
        started.callback(stop_embedded)   # last of the processes: the helpers below use it until they end
        if platform == "mixed":
            _alternate_platforms(wecom="wecom_ws" if on_ws else "wecom")
        stream = stream_connection(dingtalk_url)
        started.callback(stream.stop)
        commands = [(["worker", "--sweep-every", "2", "--quiet"], False), (["scheduler"], True)]
        if on_ws:   # the robot's socket is held by its own process, as in a plant without a public URL
            commands.append((["wecom-ws"], True))
        # The socket's log goes to the instance folder: it names every frame, too many for the terminal.
        socket_log = open(settings.current().instance_path / "wecom-ws.log", "ab") if on_ws else None
        if socket_log is not None:
            started.callback(socket_log.close)
        helper = None
        for command, quiet in commands:
            # A session of its own: a Ctrl-C at the terminal reaches the demo alone, which then stops
            # each helper and everything the helper started (the worker's alarm lane) in order.
            helper = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *command], env={**os.environ},
                                      cwd=ROOT, stderr=socket_log if command == ["wecom-ws"]
                                      else subprocess.DEVNULL if quiet else None,
                                      start_new_session=True, preexec_fn=_die_with_parent)
            started.callback(_stop_helper, helper)
        if on_ws:
            _await_socket(wecom_url, helper)
        yield Demo(app_url, wecom_url, dingtalk_url, on_ws)


def _die_with_parent() -> None:
    """In a helper, before it runs: have Linux SIGTERM it when the demo dies, even of a SIGKILL."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass   # not Linux: a SIGKILLed demo leaves its helpers, as any parent would


def _stop_helper(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a helper (it stops what it started), then kill whatever of its process group outstays grace."""
    import signal
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _await_socket(sandbox_url: str, process: subprocess.Popen) -> None:
    """Wait until the wecom-ws process has subscribed at the sandbox's gateway; a message sent earlier is lost."""
    deadline = time.monotonic() + 30
    while not requests.get(f"{sandbox_url}/sandbox/ws", timeout=5).json().get("connected"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the wecom-ws process did not reach the sandbox's long-connection gateway")
        time.sleep(0.1)


def _sandbox(create, users, *, robot: bool = False):
    c = CREDENTIALS
    return create(corp_id=c["WECOM_CORP_ID"], corp_secret=c["WECOM_SECRET"],
                  agent_id=int(c["WECOM_AGENT_ID"]), token=c["WECOM_TOKEN"],
                  aes_key=c["WECOM_AES_KEY"], users=users,
                  **({"bot_id": ROBOT["WECOM_BOT_ID"], "bot_secret": ROBOT["WECOM_BOT_SECRET"]} if robot else {}))


def _dingtalk_sandbox(create):
    d = DINGTALK
    return create(app_key=d["DINGTALK_APP_KEY"], app_secret=d["DINGTALK_APP_SECRET"],
                  corp_id=d["DINGTALK_CORP_ID"], robot_code=d["DINGTALK_APP_KEY"])


def _everyone_on_dingtalk() -> None:
    """Give each sample person without a DingTalk account one named after their WeCom account."""
    for person in Person.select().where(Person.dingtalk_userid.is_null() & Person.wecom_userid.is_null(False)):
        person.dingtalk_userid = f"dt_{person.wecom_userid}"
        person.save()


def _alternate_platforms(*, wecom: str = "wecom") -> None:
    """--platform mixed: every other person gets their cards on DingTalk (the rest on wecom, its channel name)."""
    from bot.registry import remember_platform
    for i, person in enumerate(Person.select().order_by(Person.id)):
        remember_platform(person, "dingtalk" if i % 2 else wecom)


def stream_connection(sandbox_url: str, api_base: str | None = None):
    """Open the app's Stream connection, as `python app.py dingtalk-stream` does; return once the gateway has it.

    Waiting matters: a message sent before the connection is up waits at the gateway, and whoever
    looks for its answer would look too early.
    """
    from bot.dingtalk_stream import StreamConnection
    from bot.registry import dingtalk_adapter
    from handlers.web.callbacks import handle_stream_event
    connection = StreamConnection(dingtalk_adapter(), on_event=handle_stream_event,
                                  api_base=api_base or settings.current().dingtalk.api_base)
    connection.start()
    deadline = time.monotonic() + 10
    while not requests.get(f"{sandbox_url}/sandbox/stream", timeout=5).json().get("connections"):
        if time.monotonic() > deadline:
            connection.stop()
            raise RuntimeError("the Stream connection did not reach the sandbox's gateway")
        time.sleep(0.05)
    return connection


def ws_connection(sandbox_url: str):
    """Open the robot's long connection, as `python app.py wecom-ws` does; return once the gateway has it."""
    from bot.wecom_ws import WsConnection
    from handlers.chat.longconn import handle_ws_event
    from jobs.connection import redis
    from jobs.scheduler import LeaderLock
    conf = settings.current().wecom_ws
    connection = WsConnection(bot_id=conf.bot_id, secret=conf.secret, url=conf.ws_url, redis=redis(),
                              lock=LeaderLock(redis(), key=f"ws:wecom:leader:{conf.bot_id}", ttl=20.0),
                              on_event=handle_ws_event, ping=conf.ping_seconds, backoff=(0.05, 0.5))
    connection.start()
    deadline = time.monotonic() + 10
    while not requests.get(f"{sandbox_url}/sandbox/ws", timeout=5).json().get("connected"):
        if time.monotonic() > deadline:
            connection.stop()
            raise RuntimeError("the long connection did not reach the sandbox's gateway")
        time.sleep(0.05)
    return connection


def phone_for(demo: Demo, platform: str):
    """Return the scripted phone that acts on platform's sandbox (both, for mixed)."""
    from .scripted import DingTalkPhone, MixedPhone, Phone, WsPhone
    wecom = WsPhone(demo.wecom, demo.app, settle=_handled) if demo.on_ws else Phone(demo.wecom, demo.app)
    dingtalk = DingTalkPhone(demo.dingtalk, demo.app)
    return {"wecom": wecom, "dingtalk": dingtalk, "mixed": MixedPhone(wecom, dingtalk)}[platform]


def _handled(msgid: str, timeout: float = 30.0) -> None:
    """Wait until the wecom-ws process has handled the frame with this msgid."""
    from bot.wecom_ws import handled_key
    from jobs.connection import redis
    deadline = time.monotonic() + timeout
    while not redis().exists(handled_key(msgid)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the wecom-ws process did not handle frame {msgid}")
        time.sleep(0.05)


def texts(phone, user: str) -> list[str]:
    """Return the words of every reply user got (the long connection sends them as markdown)."""
    return [str(m["content"].get("content") or m["content"].get("text") or "") for m in phone.messages(user)
            if m["msgtype"] in ("text", "markdown", "sampleText")]


def account(phone, wecom_userid: str) -> str:
    """Return the account on phone's platform of the sample person known by wecom_userid."""
    return phone.account(Person.get(Person.wecom_userid == wecom_userid))


def wait_delivered(timeout: float = 30.0) -> None:
    """Wait until the worker has handled every kept event and delivered everything in the outbox."""
    from models import InboxEvent
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A Stream click is ACKed once kept; its effects come when the worker has handled it.
        if (not InboxEvent.select().where(InboxEvent.handled_at.is_null()).exists()
                and not Outbox.select().where(Outbox.state.in_(["pending", "sending"])).exists()):
            return
        time.sleep(0.1)
    raise TimeoutError("the worker did not deliver the outbox in time")


def hot_work_form(grade: str = "一级") -> str:
    """Return the one-message application of a hot-work permit starting now."""
    now = datetime.now(settings.current().plant_tz)
    start, end = now - timedelta(minutes=5), now + timedelta(hours=4)
    return (f"申请动火作业\n地点: 3#罐区东侧管廊\n内容: DN100 管线法兰焊接\n级别: {grade}\n介质: 甲烷\n"
            f"开始: {start:%Y-%m-%d %H:%M}\n结束: {end:%Y-%m-%d %H:%M}\n"
            f"作业人: jianghan,shenli\n监护人: chuwei")


APP_NAME = {"wecom": "企业微信", "wecom_ws": "企业微信", "dingtalk": "钉钉"}


def scripted(demo: Demo, say, platform: str = "wecom") -> Permit:
    """Apply for a 一级 hot-work permit in chat and click it through to close."""
    from bot.registry import platform_for
    from .scripted import take_through
    phone, app_url = phone_for(demo, platform), demo.app
    applicant = account(phone, "zhuyan")
    say(f"朱岩 在{APP_NAME[platform_for(Person.get(Person.wecom_userid == 'zhuyan'))]}发送动火作业申请（一级）")
    with _welder_certificate_expired(say):
        phone.text(applicant, hot_work_form())
        wait_delivered()
        say(f"  {'持证检查':<12} {_refusal(phone, applicant)}")
    say(f"  {'重新指定':<12} 朱岩 在同一对话中回复作业人“jianghan,shenli”")
    phone.text(applicant, "jianghan,shenli")
    wait_delivered()
    permit = Permit.select().order_by(Permit.id.desc()).get()
    reasons = "、".join(permit.attributes.get("grade_reasons", []))
    say(f"{permit.no} 已提交，级别 {permit.grade}" + (f"（因{reasons}升级）" if reasons else ""))
    _show_board(permit, say)
    portable, fixed = (_detector(app_url, code) for code in ("GD-0012", "GD-0001"))
    fixed.start()     # the tank farm's fixed detector reports all along, as it does on site
    portable.start()  # the gas tester's detector reports once it is switched on and bound
    try:
        closed = take_through(phone, permit.no, wait_delivered, say=say, detector=portable, pause_at={
            **({"plan": lambda step: _face_check(phone, say)} if SCRIPTED_FACES else {}),
            "approve_unit": lambda step: _await_escalation(phone, step, say),
            "complete": lambda step: _gas_alarm(phone, portable, step, say)})
    finally:
        portable.stop()
        fixed.stop()
    _show_board(closed, say)
    return closed


def _face_check(phone, say) -> None:
    """The admin has 郑计's face enrolled by a selfie in chat; 郑计's camera selfie unlocks 作业计划."""
    phone.text(account(phone, "lvming"), "采集人脸 zhengji")
    wait_delivered()
    say(f"  {'人脸采集':<12} 吕明 发送“采集人脸 zhengji”，郑计 发送自拍照 obama.jpg → {_selfie(phone, 'obama.jpg')}")
    say(f"  {'人脸核验':<12} 作业计划须人脸核验，郑计 发送“自拍”，在回复的链接里用相机自拍 obama2.jpg → "
        f"{_selfie(phone, 'obama2.jpg', camera=True)}")


def _selfie(phone, photo: str, *, camera: bool = False) -> str:
    """Send 郑计's selfie (in chat, or through the camera page), wait for the face check, return its answer."""
    from models import FaceCheck
    user = account(phone, "zhengji")
    if camera:
        phone.text(user, "自拍")
        wait_delivered()
        link = re.search(r"https?://\S+/selfie/[\w.\-]+", texts(phone, user)[-1])
        answer = phone.selfie(user, link.group(0) if link else "", (FACES / photo).read_bytes())
        if answer.status_code != 202:
            return f"自拍页面未受理（HTTP {answer.status_code}）"
    else:
        phone.photo(user, (FACES / photo).read_bytes(), photo)
    deadline = time.monotonic() + 60
    while FaceCheck.select().where(FaceCheck.state.in_(["waiting", "checking"])).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not check the face in time")
        time.sleep(0.2)
    wait_delivered()
    return texts(phone, user)[-1]


@contextmanager
def _welder_certificate_expired(say):
    """Let 蒋焊's welding certificate be expired, then renewed as the safety office would record it."""
    from models import Certificate
    today = datetime.now(settings.current().plant_tz).date()
    welder = Certificate.get(Certificate.number == "HJ-jianghan")
    expired, renewed = today - timedelta(days=3), welder.valid_until
    Certificate.update(valid_until=expired).where(Certificate.id == welder.id).execute()
    say(f"  {'证书到期':<12} 蒋焊 的焊接与热切割证（{welder.number}）有效期至 {expired}，已过期")
    yield
    Certificate.update(valid_until=renewed).where(Certificate.id == welder.id).execute()
    say(f"  {'证书复审':<12} 安全环保部登记 蒋焊 复审后的焊接与热切割证，有效期至 {renewed}")


def _refusal(phone, user: str) -> str:
    """Return the newest reply to user saying why a draft was not submitted."""
    return next((t for t in reversed(texts(phone, user)) if "未能提交" in t), "（没有收到拒绝消息）")


def _show_board(permit: Permit, say) -> None:
    """Open the permit's board as anyone would from a card, and say what its big letters read."""
    import re
    from cards import links
    url = links.url(permit)
    answer = requests.get(url, timeout=10)
    shown = re.search(r'<div class="state-label">([^<]+)</div>', answer.text)
    say(f"  {'现场公示牌':<12} {url} → HTTP {answer.status_code}，显示“{shown.group(1) if shown else '?'}”")


def _detector(app_url: str, code: str):
    from models import Sensor
    from .scripted import Detector
    sensor = Sensor.get(Sensor.code == code)
    return Detector(app_url, sensor.code, sensor.secret, interval=sensor.interval_seconds, gases=sensor.gases)


def _gas_alarm(phone, detector, step, say) -> None:
    """Mid-work, the detector reads H2S past the second alarm: stop, confirm, clear, resume."""
    from models import Alarm
    from .scripted import CLEAN
    permit, guardian = step.permit, Person.get(Person.wecom_userid == "chuwei")
    answer = detector.change({**CLEAN, "H2S": 25.0}).json()
    wait_delivered()
    alarm = Alarm.get_by_id(answer["alarms"][0])
    state = Permit.get_by_id(permit.id).state
    say(f"  {'气体报警':<12} 检测仪 {detector.code} 上报 H2S=25 mg/m³：{alarm.level}报警，{permit.no} "
        f"{'已暂停' if state == 'suspended' else state}，报警卡片发给 {len(alarm.recipients)} 人")
    user = phone.account(guardian)
    card = phone.open_card(user, f"alarm-{alarm.id}-")
    phone.click(user, card)
    wait_delivered()
    alarm = Alarm.get_by_id(alarm.id)
    seconds = (alarm.acknowledged_at - alarm.reading_at).total_seconds() if alarm.acknowledged_at else None
    say(f"  {'确认收到':<12} {guardian.name} 点击“确认收到”" + (f"，响应用时 {seconds:.0f} 秒" if seconds is not None else ""))
    detector.change(CLEAN).raise_for_status()
    phone.text(user, f"恢复 {permit.no}")
    wait_delivered()
    state = Permit.get_by_id(permit.id).state
    say(f"  {'恢复作业':<12} 检测仪读数恢复合格，{guardian.name} 发送“恢复 {permit.no}” → "
        f"{'作业中' if state == 'in_progress' else state}")


def _await_escalation(phone, step, say) -> None:
    """Let the unit approval run past its (shortened) limit and show who it was escalated to."""
    say(f"  {step.name:<12} 无人审批……（演示中时限缩短为 {_seconds(step)} 秒）")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        escalated = [a.person for a in StepAssignee.select().where(
            (StepAssignee.step == step) & (StepAssignee.reason == "escalated"))]
        if escalated:
            wait_delivered()
            person = escalated[0]
            got = phone.open_card(phone.account(person), f"{step.permit.no}-{step.key}-r{step.round}-")
            say(f"  {step.name:<12} 超时，已上报 {person.name}，其手机收到审批卡片：{'是' if got else '否'}")
            return
        time.sleep(0.2)
    raise TimeoutError("the step did not escalate: is the scheduler running?")


def _seconds(step) -> int:
    from workflow import template as templates
    minutes = templates.get(step.permit.work_type).step(step.key).limit_minutes
    return round(minutes * 60 * settings.current().step_limit_factor)
