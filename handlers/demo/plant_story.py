"""The scripted plant story: overlapping permits, a shared isolation, a handover and an emergency drill.

Two hot-work crews work the same tank farm on one day. Everything goes through the real doors: chat
messages and card clicks on the phones, site QR scans, the worker delivering every card. A step that
does not happen raises StoryFailed, so the demo exits non-zero.
"""
from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from typing import Callable

import requests
from openpyxl import load_workbook

import settings
from cards import links
from handlers.web.area_board import url as area_url
from models import AuditEvent, Emergency, Person
from models.area import Area
from models.handover import Handover
from models.isolation import IsolationPoint
from models.permit import Permit
from workflow import machine, template as templates
from workflow.assign import resolve
from workflow.template import COORDINATE

from .demo import Demo, phone_for, wait_delivered
from .gas_story import expect
from .scripted import GOOD_AIR, take_through, tiny_png

ADMIN = "lvming"
BLIND = "盲板编号: MB-301\n抽堵: 堵\n管道介质、温度、压力: 汽油 0.6MPa 常温"


def _form(place: str, *, guardian: str, kind: str = "动火作业", extra: str = "级别: 二级\n介质: 甲烷") -> str:
    now = datetime.now(settings.current().plant_tz)
    start, end = now - timedelta(minutes=5), now + timedelta(hours=4)
    return (f"申请{kind}\n地点: {place}\n内容: DN100 管线法兰焊接\n{extra}\n"
            f"开始: {start:%Y-%m-%d %H:%M}\n结束: {end:%Y-%m-%d %H:%M}\n"
            f"作业人: jianghan,shenli\n监护人: {guardian}")


class Plant:
    """The phones of the sample plant's people, addressed by their WeCom account."""

    def __init__(self, demo: Demo, platform: str):
        self.phone = phone_for(demo, platform)

    def user(self, account: str) -> str:
        return self.phone.account(Person.get(Person.wecom_userid == account))

    def text(self, account: str, content: str) -> None:
        self.phone.text(self.user(account), content)
        wait_delivered()

    def last_text(self, account: str) -> str:
        texts = [m for m in self.phone.messages(self.user(account)) if m["msgtype"] in ("text", "markdown", "sampleText")]
        content = texts[-1]["content"] if texts else {}
        return str(content.get("content") or content.get("text") or "")

    def click(self, account: str, task_prefix: str, what: str) -> None:
        user = self.user(account)
        card = self.phone.open_card(user, task_prefix)
        expect(card is not None, f"{what}：{account} 的手机上没有这张卡片")
        self.phone.click(user, card)
        wait_delivered()

    def answered(self, account: str, contains: str, timeout: float = 30.0) -> str:
        """Wait for an answer that no outbox row carries before its job runs (a photo's) and return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.last_text(account)
            if contains in text:
                return text
            time.sleep(0.2)
        text = self.last_text(account)
        expect(False, f"{account} 没有收到含“{contains}”的回复，最后一条：{text}")
        return text

    def apply(self, place: str, *, guardian: str, **form) -> Permit:
        before = Permit.select().count()
        self.text("zhuyan", _form(place, guardian=guardian, **form))
        expect(Permit.select().count() == before + 1, f"{place} 的申请没有生成作业票")
        return Permit.select().order_by(Permit.id.desc()).get()


def plant(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """Run the tank farm's day through the sandbox."""
    p = Plant(demo, platform)
    say("储运罐区的一天：两组动火作业、一处共用隔离、一次交接班、一次应急演练")

    a = p.apply("3#罐区 东侧管廊", guardian="chuwei")
    expect(a.state == "in_approval", f"{a.no} 未提交")
    say(f"  {'申请':<12} 朱岩 申请 {a.no}（动火二级，3#罐区 东侧管廊，监护人 褚卫）")
    p.text("zhuyan", f"隔离 {a.no} V-101 关阀上锁 L-01 T-01")
    point = IsolationPoint.get_or_none(IsolationPoint.tag_no == "T-01")
    expect(point is not None, "隔离点位未登记")
    p.click("chuwei", f"isolation-{point.id}-verify-", "确认隔离")
    expect(IsolationPoint.get_by_id(point.id).state == "verified", "隔离未确认")
    say(f"  {'能量隔离':<12} 朱岩 登记 V-101 关阀上锁（锁 L-01），褚卫 点击“确认隔离”")
    p.text("chuwei", "照片 V-101")
    p.phone.photo(p.user("chuwei"), tiny_png(90), "V-101.png")
    p.answered("chuwei", "照片已作为点位 V-101 的隔离照片保存")
    wait_delivered()
    expect(IsolationPoint.get_by_id(point.id).photo_id is not None, "V-101 的隔离照片未保存")
    say(f"  {'隔离照片':<12} 褚卫 发送“照片 V-101”和锁具挂牌照片 → 公示牌“能量隔离”和隔离台账显示该照片")

    b = p.apply("3#罐区 西侧管廊", guardian="weidong")
    coordinate = [s for s in machine.steps(b) if s.key == COORDINATE]
    expect(bool(coordinate), f"{b.no} 与 {a.no} 重叠，却没有插入协调步骤")
    coordinator = resolve(templates.get(b.work_type).step(COORDINATE), b)[0]
    say(f"  {'交叉作业':<12} {b.no}（3#罐区 西侧管廊）与 {a.no} 同区同时段 → 插入“交叉作业协调”，协调人 {coordinator.name}")
    p.text("zhuyan", f"隔离 {b.no} V-101 关阀上锁 L-01")
    expect(f"与 {a.no} 共用" in p.last_text("zhuyan"), "第二张票没有共用隔离点位")
    say(f"  {'共用隔离':<12} {b.no} 登记同一点位 V-101 → 与 {a.no} 共用一把锁")

    blind = p.apply("3#罐区 进料线", guardian="chuwei", kind="盲板抽堵作业", extra=BLIND)
    expect(blind.state == "draft" and a.no in p.last_text("zhuyan"), "禁止的交叉作业没有被拒绝")
    say(f"  {'禁止组合':<12} 盲板抽堵（3#罐区 进料线）→ 拒绝：与 {a.no} 动火作业冲突，作业负责人 蒋焊")
    before = Permit.select().count()
    p.text("zhuyan", _form("5#罐区 北侧", guardian="chuwei"))
    expect(Permit.select().count() == before and "不在本厂区域表中" in p.last_text("zhuyan"), "区域表外的地点未被拒绝")
    say(f"  {'地点':<12} “5#罐区 北侧” → 拒绝：不在本厂区域表中，并列出最接近的区域")

    for permit in (a, b):
        take_through(p.phone, permit.no, wait_delivered, until="in_progress")
    say(f"  {'开工':<12} {a.no}、{b.no} 逐级审批、现场签到后均已开工")

    p.text("chuwei", f"交接 {a.no} heliang")
    handover = Handover.get_or_none(Handover.permit == a.id)
    expect(handover is not None, "交接没有发起")
    p.click("chuwei", f"handover-{handover.id}-out-", "确认交班")
    expect(p.phone.scan(p.user("heliang"), a.no) == 200, "接班人现场签到失败")
    p.click("heliang", f"handover-{handover.id}-in-", "确认接班")
    guardians = [g.name for g in machine.members(Permit.get_by_id(a.id), "监护人")]
    expect(Handover.get_by_id(handover.id).state == "done" and guardians == ["何亮"], f"交接未完成：{guardians}")
    p.phone.visit(p.user("chuwei"), a.no, "out")
    wait_delivered()
    expect(Permit.get_by_id(a.id).state == "in_progress", "按流程交接后监护人离场，作业却停了")
    say(f"  {'交接班':<12} 褚卫 交接给 何亮：双方确认、何亮 现场签到 → 监护人变更；褚卫 离场，作业继续")
    shown = requests.get(links.url(Permit.get_by_id(a.id), base_url=demo.app), timeout=10).text
    expect("褚卫 → 何亮" in shown and "已交接" in shown, "公示牌没有显示交接班记录")
    say(f"  {'公示牌':<12} {a.no} 公示牌显示：监护人 褚卫 → 何亮 · 已交接")

    p.text("sunli", "演练 3#罐区 模拟东侧法兰泄漏")
    drill = Emergency.get_or_none()
    expect(drill is not None and drill.drill, "应急演练没有发起")
    stopped = {Permit.get_by_id(x.id).state for x in (a, b)}
    expect(stopped == {"suspended"}, f"演练没有暂停区域内作业：{stopped}")
    recipients = [Person.get_by_id(i) for i in drill.alarm.recipients]
    on_permits = {m.id for x in (a, b) for m in machine.crew_and_guardians(Permit.get_by_id(x.id))}
    for person in recipients:
        if person.id in on_permits:
            p.click(person.wecom_userid, f"alarm-{drill.alarm_id}-", "已撤离到安全区")
    board = requests.get(area_url(Area.get(Area.name == "3#罐区"), base_url=demo.app), timeout=10)
    expect(board.status_code == 200 and "【演练】3#罐区" in board.text and board.text.count(">已暂停<") == 2,
           "区域公示牌没有显示演练和两张已暂停的作业票")
    say(f"  {'区域公示牌':<12} 3#罐区 入口平板：【演练】，{a.no}、{b.no} 均显示“已暂停”")
    held = [m for m in p.phone.messages(p.user("sunli")) if (m.get("task_id") or "").startswith(f"muster-{drill.id}-")]
    expect(bool(held) and "全部人员已撤离到安全区" in str(held[-1]["state"]["card"]),
           "孙立 的人员清点卡片没有随点击更新到全部撤离")
    say(f"  {'清点卡片':<12} 孙立 的“人员清点”卡片随每次点击更新：已撤离 {len(on_permits)} / {len(on_permits)}")
    p.text("sunli", "清点 3#罐区")
    tally = p.last_text("sunli")
    expect("全部人员已撤离到安全区" in tally, f"清点未完成：{tally}")
    say(f"  {'应急演练':<12} 孙立 发起【演练】3#罐区：{a.no}、{b.no} 已暂停，{len(recipients)} 人收到卡片；"
        f"作业人员逐一点击“已撤离到安全区”，清点 {len(on_permits)} / {len(on_permits)}")
    p.text("sunli", "解除应急 3#罐区 演练结束，现场检测合格")
    for permit, guardian in ((a, "heliang"), (b, "weidong")):
        tester = machine.assignees(next(s for s in machine.steps(permit) if s.phase == "gas"))[0]
        p.text(tester.wecom_userid, f"气体检测 {permit.no} {GOOD_AIR}")
        p.text(guardian, f"恢复 {permit.no}")
    resumed = {Permit.get_by_id(x.id).state for x in (a, b)}
    expect(resumed == {"in_progress"}, f"解除后复测、监护人确认，仍未恢复：{resumed}")
    say(f"  {'恢复作业':<12} 解除演练，气体复测合格，监护人 何亮、卫东 发送“恢复” → 两张票均恢复作业")

    take_through(p.phone, a.no, wait_delivered)
    p.text("zhuyan", "解除隔离 V-101")
    expect(b.no in p.last_text("zhuyan") and IsolationPoint.get_by_id(point.id).state == "verified",
           "还有作业票依赖时，隔离却被解除了")
    say(f"  {'解除隔离':<12} {a.no} 已关闭；朱岩 申请解除 V-101 → 拒绝：{b.no} 尚未关闭")
    take_through(p.phone, b.no, wait_delivered)
    p.click("zhuyan", f"isolation-{point.id}-release-", "解除隔离")
    expect(IsolationPoint.get_by_id(point.id).state == "released", "最后一张票关闭后隔离未解除")
    say(f"  {'解除隔离':<12} {b.no} 已关闭 → 朱岩 收到“解除隔离”卡片并点击，V-101 已解除")

    month = f"{datetime.now(settings.current().plant_tz):%Y-%m}"
    p.text(ADMIN, f"导出 台账 {month}")
    sheets = _ledger_sheets(p, demo)
    for name in ("隔离台账", "交接班记录", "应急记录"):
        expect(sheets.get(name, 0) >= 1, f"台账没有{name}的记录")
    say(f"  {'台账':<12} 吕明 导出本月台账：隔离台账 {sheets['隔离台账']} 条，交接班记录 {sheets['交接班记录']} 条，"
        f"应急记录 {sheets['应急记录']} 条")
    events = AuditEvent.select().where(AuditEvent.permit_no.in_([a.no, b.no])).count()
    say(f"{a.no}、{b.no} → 已关闭，审计记录 {events} 条")


def _ledger_sheets(p: Plant, demo: Demo) -> dict[str, int]:
    """Download the ledger the admin was sent and count each sheet's data rows (under its title block)."""
    user = p.user(ADMIN)
    deadline = time.monotonic() + 60   # the export is a job of its own; its file message comes after it
    while True:
        files = [m for m in p.phone.messages(user) if m["msgtype"] in ("file", "sampleFile")]
        if files or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        wait_delivered()
    expect(bool(files), "管理员没有收到台账文件")
    content = files[-1]["content"]
    media = content.get("media_id") or content.get("mediaId")
    path = "sandbox/media" if p.phone.platform == "wecom" else "sandbox/dingtalk-media"
    base = demo.wecom if p.phone.platform == "wecom" else demo.dingtalk
    data = requests.get(f"{base}/{path}/{media}", timeout=30)
    expect(data.status_code == 200, "台账文件下载失败")
    book = load_workbook(io.BytesIO(data.content), read_only=True)
    return {sheet.title: sum(1 for row in sheet.iter_rows(min_row=4, values_only=True) if any(row))
            for sheet in book.worksheets}
