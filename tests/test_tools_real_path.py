"""Safety tools end to end, on WeCom and DingTalk: a phone scans a tool's QR label through the platform's
OAuth page, takes the tool out or back, an expired detector is refused and keeps the gas test from
counting, the scheduler's scan warns the keeper and chases a loan past its limit, and `工器具 编号` in chat
tells a tool's state with a link to its page."""
from __future__ import annotations

import re
from datetime import date, timedelta

import requests
from openpyxl import Workbook

from exports.tool_import import COLUMNS, TOOLS, add_months, load_tools
from handlers.demo.scripted import GOOD_AIR, take_through
from jobs import scans
from models import AuditEvent, GasReading, utcnow
from models.permit import Permit
from models.tool import Tool, ToolLoan
from tests.test_site_real_path import newest_notice, to_step
from tests.test_training_real_path import texts
from tests.test_wecom_real_path import BOTH, applied, world  # noqa: F401
from tools import labels, loans
from workflow import machine


def _today() -> date:
    return loans.today(utcnow())


def register(tmp_path) -> None:
    """Load a register with a detector in test, one whose test lapsed yesterday, and a harness."""
    today = _today()
    lapsed = add_months(today, -12) - timedelta(days=1)
    rows = [("GJ-0001", "便携式气体检测仪", 12, f"{today - timedelta(days=30)}", "sunli", 8),
            ("GJ-0003", "便携式气体检测仪", 12, f"{lapsed}", "sunli", 8),
            ("AQD-0001", "安全带", 12, f"{today - timedelta(days=30)}", "zhuyan", "")]
    book = Workbook()
    sheet = book.active
    sheet.title = TOOLS
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(row)
    path = tmp_path / "tools.xlsx"
    book.save(path)
    load_tools(path)


def scan(phone, user: str, no: str, action: str | None = None) -> requests.Response:
    return phone.tool(user, no, action)


@BOTH
def test_an_expired_detector_is_refused_and_the_gas_test_counts_only_with_one_in_test(world, tmp_path):
    phone, drain, _ = world
    register(tmp_path)
    permit, _ = applied(phone, drain)
    to_step(phone, drain, permit.no, "gas")
    assert "须先扫码领用检验合格的便携式气体检测仪" in str(phone.messages("chenjian")[-1]["content"])

    phone.text("chenjian", f"气体检测 {permit.no} {GOOD_AIR}")
    drain()
    assert "须先扫码领用便携式气体检测仪" in newest_notice(phone, "chenjian")
    assert not GasReading.select().exists()

    lapsed = Tool.get(Tool.no == "GJ-0003")
    page = scan(phone, "chenjian", "GJ-0003", "out")
    assert page.status_code == 409
    assert f"检验有效期至 {lapsed.due_on:%Y-%m-%d}，已过期，不得领用" in page.text
    assert Tool.get(Tool.no == "GJ-0003").holder is None and not ToolLoan.select().exists()

    page = scan(phone, "chenjian", "GJ-0001", "out")
    assert page.status_code == 200 and "领用成功" in page.text and "陈检" in page.text
    assert Tool.get(Tool.no == "GJ-0001").holder.name == "陈检"

    phone.text("chenjian", f"气体检测 {permit.no} {GOOD_AIR}")
    drain()
    assert machine.active_step(Permit.get_by_id(permit.id)).key != "gas"
    assert GasReading.get().passed


@BOTH
def test_a_tool_held_by_someone_else_is_refused_and_only_holder_or_keeper_takes_it_back(world, tmp_path):
    phone, drain, _ = world
    register(tmp_path)
    assert scan(phone, "chenjian", "GJ-0001", "out").status_code == 200

    page = scan(phone, "heliang", "GJ-0001")
    assert "陈检" in page.text and "领用" in page.text
    taken = scan(phone, "heliang", "GJ-0001", "out")
    assert taken.status_code == 409 and "已由 陈检 于" in taken.text and "须其归还后才能领用" in taken.text
    assert Tool.get(Tool.no == "GJ-0001").holder.name == "陈检"

    back = scan(phone, "chenjian", "GJ-0001", "in")
    assert back.status_code == 200 and "已归还" in back.text
    loan = ToolLoan.get()
    assert loan.back_by.name == "陈检" and Tool.get(Tool.no == "GJ-0001").holder is None
    assert [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("tool_"))
            .order_by(AuditEvent.seq)] == ["tool_out", "tool_back"]


@BOTH
def test_a_forged_label_is_refused_in_plain_chinese_and_changes_nothing(world, tmp_path):
    phone, _drain, _ = world
    register(tmp_path)
    real = labels.url(Tool.get(Tool.no == "GJ-0001"), base_url=phone.app)
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    _browser, page = phone.open_code("chenjian", forged)
    assert page.status_code == 404 and "二维码无效" in page.text
    other = real.replace("GJ-0001", "GJ-0003")   # one tool's signature on another's number
    _browser, page = phone.open_code("chenjian", other)
    assert page.status_code == 404
    posted = requests.post(forged.replace("/tools/GJ-0001?", "/tools/GJ-0001/loan?"), data={"action": "out"},
                           timeout=10)
    assert posted.status_code == 404
    # An OAuth code that comes to another browser than the one that asked proves nobody.
    param = {"wecom": "code", "dingtalk": "authCode"}[phone.platform]
    stolen = requests.get(real, params={param: "stolen", "state": "x"}, timeout=10)
    assert stolen.status_code == 403 and "请用" in stolen.text and "重新扫描工器具上的二维码" in stolen.text
    assert not ToolLoan.select().exists() and Tool.get(Tool.no == "GJ-0001").holder is None


@BOTH
def test_the_scheduler_warns_the_keeper_before_the_due_date_and_chases_a_loan_past_its_limit(world, tmp_path):
    phone, drain, _ = world
    register(tmp_path)
    assert scan(phone, "chenjian", "GJ-0001", "out").status_code == 200
    out_at = Tool.get(Tool.no == "GJ-0001").out_at
    # Ten days from the plant day of the scan below, not of now: 7 hours on may be tomorrow there.
    soon = Tool.get(Tool.no == "AQD-0001")
    Tool.update(due_on=loans.today(out_at + timedelta(hours=7)) + timedelta(days=10)).where(Tool.id == soon.id).execute()

    counts = scans.run_all((out_at + timedelta(hours=7)).isoformat())
    drain()
    assert counts["tools_chased"] == 0
    # AQD-0001 falls due in 10 days, GJ-0003 is past due: both keepers hear once; GJ-0001 is a year away.
    assert counts["tools_warned"] == 2
    warned = [m for m in phone.messages("zhuyan") if "AQD-0001" in str(m["content"])]
    assert len(warned) == 1 and "还有 10 天" in str(warned[0]["content"])
    assert any("GJ-0003" in str(m["content"]) and "已过期" in str(m["content"]) for m in phone.messages("sunli"))

    counts = scans.run_all((out_at + timedelta(hours=9)).isoformat())
    drain()
    assert counts == counts | {"tools_warned": 0, "tools_chased": 1}
    chased = "催还：便携式气体检测仪 GJ-0001 由 陈检 领用已 9 小时，超过借用时限 8 小时"
    assert chased in newest_notice(phone, "chenjian")
    assert any(chased in str(m["content"]) for m in phone.messages("sunli"))
    assert scans.run_all((out_at + timedelta(hours=10)).isoformat())["tools_chased"] == 0   # next: at 17 hours
    assert scans.run_all((out_at + timedelta(hours=17)).isoformat())["tools_chased"] == 1


@BOTH
def test_with_a_register_loaded_the_scripted_driver_scans_out_the_tools_the_steps_name(world, tmp_path):
    phone, drain, _ = world
    register(tmp_path)
    permit, _ = applied(phone, drain)
    said = []
    take_through(phone, permit.no, drain, said.append, until="in_progress")
    assert Tool.get(Tool.no == "GJ-0001").holder.name == "陈检"   # GJ-0003 lapsed: passed over
    assert Tool.get(Tool.no == "GJ-0003").holder is None
    assert any("扫码领用便携式气体检测仪 GJ-0001" in line for line in said)


@BOTH
def test_the_chat_word_tells_a_tools_state_with_its_page_and_refuses_an_unknown_number(world, tmp_path):
    phone, drain, _ = world
    register(tmp_path)
    assert scan(phone, "chenjian", "GJ-0001", "out").status_code == 200
    detector, lapsed = Tool.get(Tool.no == "GJ-0001"), Tool.get(Tool.no == "GJ-0003")
    events, loans_before = AuditEvent.select().count(), ToolLoan.select().count()

    phone.text("heliang", "工器具 GJ-0001")
    drain()
    said = texts(phone, "heliang")[-1]
    assert said.startswith("【安全工器具】GJ-0001 便携式气体检测仪\n"
                           f"检验有效期至 {detector.due_on:%Y-%m-%d}，在检验有效期内\n保管人：孙立\n"
                           f"领用情况：陈检 于 {loans.when(detector.out_at)} 领用\n"), said
    link = re.search(r"领用、归还请打开：(\S+)$", said).group(1)
    _browser, page = phone.open_code("heliang", link)   # the link opens the page a scan of the label opens
    assert page.status_code == 200 and "GJ-0001" in page.text and "陈检" in page.text

    phone.text("heliang", "工器具 gj-0003")   # typed in lower case on a phone
    drain()
    assert texts(phone, "heliang")[-1].startswith(
        f"【安全工器具】GJ-0003 便携式气体检测仪\n检验有效期至 {lapsed.due_on:%Y-%m-%d}，已过期，不得使用；"
        "请交保管人 孙立 送检\n保管人：孙立\n领用情况：在库，未领用\n")

    phone.text("heliang", "工器具 GJ-9999")
    drain()
    assert texts(phone, "heliang")[-1] == "未办理：工器具登记册中没有编号为 GJ-9999 的工器具，请核对工器具上的编号"
    phone.text("heliang", "工器具")
    drain()
    assert texts(phone, "heliang")[-1] == "未办理：格式：工器具 编号，例如：工器具 GJ-0001"
    assert Tool.get(Tool.no == "GJ-0001").holder.name == "陈检" and ToolLoan.select().count() == loans_before
    assert AuditEvent.select().where(AuditEvent.action.startswith("tool_")).count() == 1
    assert AuditEvent.select().count() - events == AuditEvent.select().where(AuditEvent.action == "refused").count()
