"""The scripted inspection story: a hazard rectified, sent back once and closed; an anonymous report; a random
audit; an inspection round from the sample plans.

Everything goes through the real doors: chat messages and photos on the phones, the worker delivering
every answer. A step that does not happen raises StoryFailed, so the demo exits non-zero.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Callable

import settings
from hazards import audits
from models import AnonymousReport, Finding, Outbox, PermitAudit, Person

from .demo import Demo, wait_delivered
from .gas_story import expect
from .plant_story import ADMIN, Plant, _ledger_sheets
from .scripted import take_through, tiny_png

CODE = re.compile(r"JB-[2-9A-Z]{4}-[2-9A-Z]{4}")


def _answered(p: Plant, account: str, contains: str, timeout: float = 30.0) -> str:
    """Wait for an answer that no outbox row carries (an anonymous one) and return it."""
    return p.answered(account, contains, timeout)


def _photo(p: Plant, account: str, shade: int) -> None:
    p.phone.photo(p.user(account), tiny_png(shade))
    _answered(p, account, "照片已作为")
    wait_delivered()


def _audit(p: Plant, say: Callable[[str], None]):
    """A permit under way is drawn for the day's audit; the officer checks it on site and fails one item."""
    permit = p.apply("3#罐区 东侧管廊", guardian="chuwei")
    take_through(p.phone, permit.no, wait_delivered, until="in_progress")
    today = datetime.now(settings.current().plant_tz).date()
    # The scheduler draws from 09:00; before that the story draws as it would (every permit: AUDIT_SHARE=1).
    draw = audits.draw(today)
    expect(permit.no in draw.drawn and draw.drawn == audits.reproduce(draw), f"{permit.no} 没有被抽中")
    wait_delivered()
    expect(f"抽查 {permit.no}" in p.last_text("sunli"), "安全员没有收到抽查清单")
    say(f"  {'随机抽查':<12} {permit.no} 开工；当日抽取（种子 {draw.seed}，比例 {draw.share:.0%}）→ 抽中，"
        f"孙立 收到 {len(audits.measures(permit))} 项检查清单")
    p.text("sunli", f"抽查 {permit.no} 不合格 10 灭火器不足")
    expect("请先到现场扫描" in p.last_text("sunli"), "未到现场也记录了抽查")
    page = p.phone.visit(p.user("sunli"), permit.no)
    expect(page.status_code == 200, f"孙立 扫码 → HTTP {page.status_code}")
    p.text("sunli", f"抽查 {permit.no} 不合格 10 灭火器不足")
    row = PermitAudit.get(PermitAudit.permit == permit)
    expect(row.state == "failed" and row.finding is not None, "抽查不合格没有登记隐患")
    say(f"  {'现场抽查':<12} 孙立 未扫码记录 → 拒绝；扫码签到后记录“第 10 项不合格：灭火器不足” → 隐患 {row.finding.no}")
    return permit


def _round(p: Plant, say: Callable[[str], None], permit) -> None:
    """何亮's shift round of 3#罐区 comes as a card; he scans a site code there and ticks one item 不符合."""
    from exports.inspection_import import load_inspections
    from exports.samples.build_sample_inspections import OUT as PLANS
    from models import Inspection, InspectionPlan
    load_inspections(PLANS)
    plan = InspectionPlan.get(InspectionPlan.name == "3#罐区每班巡检")
    user = p.user("heliang")
    # The scheduler's next scan (every second in a story) opens the shift's round and sends its card.
    deadline, row, card = time.monotonic() + 60, None, None
    while card is None and time.monotonic() < deadline:
        time.sleep(0.5)
        row = Inspection.select().where(Inspection.plan == plan).order_by(Inspection.id.desc()).first()
        card = p.phone.open_card(user, f"inspection-{row.id}-") if row is not None else None
    expect(card is not None, "何亮 没有收到巡检卡片")
    page = p.phone.visit(user, permit.no)
    expect(page.status_code == 200, f"何亮 扫码 → HTTP {page.status_code}")
    p.phone.click(user, card, ticks=[0])
    wait_delivered()
    row = Inspection.get_by_id(row.id)
    expect(row.state == "done" and len(row.findings) == 1, "巡检不符合项没有登记隐患")
    say(f"  {'巡检':<12} 何亮 收到“{plan.name}”卡片（{len(row.items)} 项），扫码签到后勾选 1 项不符合 → "
        f"隐患 {row.findings[0]}")


def inspection(demo: Demo, say: Callable[[str], None], platform: str = "wecom") -> None:
    """Run a hazard through its whole flow and an anonymous report through the sandbox."""
    p = Plant(demo, platform)
    say("隐患排查治理：随手拍隐患、指派整改、复查退回、复查关闭；随机抽查；巡检；匿名举报与查询")

    p.text("chuwei", "隐患 3#罐区 东侧消防通道被杂物堵塞\n类别: 消防")
    f = Finding.select().order_by(Finding.id.desc()).first()
    expect(f is not None and f.no in p.last_text("chuwei"), "隐患没有登记")
    expect(f.no in p.last_text("sunli"), "区域安全员没有收到新隐患")
    _photo(p, "chuwei", 90)
    say(f"  {'发现':<12} 褚卫 发送“隐患 3#罐区 东侧消防通道被杂物堵塞”和现场照片 → {f.no}，安全员 孙立 收到")

    due = datetime.now(settings.current().plant_tz) + timedelta(days=2)
    p.text("sunli", f"指派 {f.no} jianghan {due:%Y-%m-%d %H:%M}")
    expect("请整改隐患" in p.last_text("jianghan"), "责任人没有收到整改通知")
    p.text("jianghan", f"开始整改 {f.no}")
    say(f"  {'指派':<12} 孙立 指派 蒋焊 整改，期限 {due:%m-%d %H:%M}；蒋焊 开始整改")

    p.text("jianghan", f"整改完成 {f.no} 已清理")
    expect("请先发送整改后的现场照片" in p.last_text("jianghan"), "没有照片也报了整改完成")
    _photo(p, "jianghan", 120)
    p.text("jianghan", f"整改完成 {f.no} 已清理")
    expect("请到现场复查" in p.last_text("chuwei"), "发现人没有收到复查通知")
    say(f"  {'整改':<12} 蒋焊 未附照片报完成 → 拒绝；发送整改照片后报完成 → 褚卫 收到复查通知")

    p.text("jianghan", f"复查 {f.no} 通过")
    expect("不能复查自己的整改" in p.last_text("jianghan"), "整改人复查了自己的整改")
    p.text("chuwei", f"复查 {f.no} 不通过 通道内仍有纸箱")
    expect("复查不通过" in p.last_text("jianghan"), "复查不通过没有退回责任人")
    _photo(p, "jianghan", 150)
    p.text("jianghan", f"整改完成 {f.no} 纸箱已清走")
    p.text("chuwei", f"复查 {f.no} 通过")
    f = Finding.get_by_id(f.id)
    expect(f.state == "closed", f"{f.no} 复查通过后仍是 {f.state}")
    say(f"  {'复查':<12} 蒋焊 自己复查 → 拒绝；褚卫 复查不通过 → 退回；再次整改后 褚卫 复查通过 → {f.no} 已关闭")

    reporter = Person.get(Person.wecom_userid == "weidong")
    outbox_before = Outbox.select().where(Outbox.person == reporter).count()
    p.phone.text(p.user("weidong"), "举报 3#罐区 有人未办作业票在罐区东侧动火")
    code = CODE.search(_answered(p, "weidong", "查询码")).group(0)
    report = AnonymousReport.select().order_by(AnonymousReport.id.desc()).first()
    expect(report is not None and report.text.startswith("有人未办作业票"), "举报没有保存")
    expect(Outbox.select().where(Outbox.person == reporter).count() == outbox_before,
           "举报的回执留下了发给举报人的记录")
    say(f"  {'匿名举报':<12} 卫东 发送“举报 3#罐区 …” → 查询码 {code}；数据库中没有举报人、没有发给他的记录")

    p.text("sunli", f"举报处理 {report.id} 立案")
    expect("已立为隐患" in p.last_text("sunli"), "举报没有立为隐患")
    p.phone.text(p.user("weidong"), f"举报查询 {code}")
    status = _answered(p, "weidong", "已立为隐患")
    p.phone.text(p.user("weidong"), "举报查询 JB-2345-6789")
    unknown = _answered(p, "weidong", "查不到")
    say(f"  {'举报查询':<12} 孙立 立案；卫东 查询 → {status.split('：', 1)[-1]}；编造的查询码 → {unknown}")

    _round(p, say, _audit(p, say))

    month = f"{datetime.now(settings.current().plant_tz):%Y-%m}"
    p.text(ADMIN, f"导出 台账 {month}")
    sheets = _ledger_sheets(p, demo)
    expect(sheets.get("隐患排查治理台账", 0) >= 3, "台账没有隐患记录")
    expect(sheets.get("巡检记录", 0) >= 1, "台账没有巡检记录")
    say(f"  {'台账':<12} 吕明 导出本月台账：隐患排查治理台账 {sheets['隐患排查治理台账']} 条，"
        f"抽查记录 {sheets.get('抽查记录', 0)} 条，巡检记录 {sheets['巡检记录']} 条")
    say(f"{f.no} → 已关闭")
