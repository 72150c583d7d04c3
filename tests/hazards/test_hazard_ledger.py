"""The 隐患排查治理台账 sheet of the ledger: the regulators' fields first, one row per finding of the period."""
from __future__ import annotations

from datetime import datetime, timedelta

from openpyxl import load_workbook

from exports.build import build_ledger
from exports.hazards import FINDING_COLUMNS, FINDINGS
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope
from hazards import findings
from models import find_person
from tests.conftest import MORNING

UPLOAD_FIELDS = ["编号", "隐患名称", "等级", "来源", "发现时间", "整改责任人", "整改期限", "整改完成时间", "验收人", "状态"]


def test_the_ledger_lists_each_finding_with_the_upload_fields(plant, tmp_path):
    closed = findings.report("3#罐区 消防通道堵塞", by=find_person("chuwei"), now=MORNING)
    findings.assign(closed.no, "jianghan", MORNING + timedelta(days=1), by=find_person("sunli"),
                    now=MORNING + timedelta(minutes=5))
    findings.start(closed.no, by=find_person("jianghan"), now=MORNING + timedelta(minutes=6))
    findings.add_photo(closed.no, by=find_person("jianghan"), data=b"after", now=MORNING + timedelta(hours=1))
    findings.rectify(closed.no, "已清理", by=find_person("jianghan"), now=MORNING + timedelta(hours=1))
    findings.recheck(closed.no, True, by=find_person("chuwei"), now=MORNING + timedelta(hours=2))
    open_one = findings.report("储运罐区 围堰破损", by=find_person("weidong"),
                               options=findings.Options(grade="重大"), now=MORNING + timedelta(hours=3))
    findings.report("3#罐区 十二月的隐患", by=find_person("chuwei"), now=datetime(2026, 12, 2))

    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    sheet = load_workbook(built.path)[FINDINGS]
    assert [c.value for c in sheet[3]][:10] == UPLOAD_FIELDS
    assert [c.value for c in sheet[3]] == [c.header for c in FINDING_COLUMNS]
    rows = [dict(zip(UPLOAD_FIELDS, r)) for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert built.rows[FINDINGS] == 2 and [r["编号"] for r in rows] == [closed.no, open_one.no]
    assert rows[0] == {"编号": closed.no, "隐患名称": "消防通道堵塞", "等级": "一般", "来源": "随手拍",
                       "发现时间": datetime(2026, 11, 24, 8, 0), "整改责任人": "蒋焊",
                       "整改期限": datetime(2026, 11, 25, 8, 0), "整改完成时间": datetime(2026, 11, 24, 9, 0),
                       "验收人": "褚卫", "状态": "已关闭"}
    assert (rows[1]["等级"], rows[1]["状态"], rows[1]["整改责任人"]) == ("重大", "待指派", None)


def test_the_ledger_lists_each_audit_and_each_inspection_round(plant, tmp_path):
    from datetime import date

    from exports.hazards import AUDIT_COLUMNS, AUDITS, ROUND_COLUMNS, ROUNDS
    from exports.inspection_import import load_inspections
    from exports.samples.build_sample_inspections import OUT as PLANS
    from hazards import audits, inspections
    from models import CheckIn, Inspection
    from tests.emergency.test_emergency_stop import running_at
    from workflow.walkthrough import Clock
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - timedelta(hours=2)))
    sunli, heliang = find_person("sunli"), find_person("heliang")
    audits.draw(date(2026, 11, 24), now=MORNING + timedelta(hours=1), seed="5eed", share=1.0)
    CheckIn.create(permit=hot, person=sunli, at=MORNING + timedelta(hours=2), source="qr", kind="visit")
    failed = audits.record(hot.no, False, "10 灭火器不足", by=sunli, now=MORNING + timedelta(hours=2))
    load_inspections(PLANS)
    inspections.open_due(MORNING + timedelta(hours=1))
    CheckIn.create(permit=hot, person=heliang, at=MORNING + timedelta(hours=2), source="qr", kind="visit")
    tank = Inspection.select().order_by(Inspection.id).first()
    done = inspections.record(tank.id, [tank.items[1]], by=heliang, now=MORNING + timedelta(hours=3))

    built = build_ledger(Scope(read_month("2026-11")), tmp_path / "ledger.xlsx", Run.current(now=MORNING + timedelta(days=2)))
    book = load_workbook(built.path)
    assert [c.value for c in book[AUDITS][3]] == [c.header for c in AUDIT_COLUMNS]
    audit_rows = list(book[AUDITS].iter_rows(min_row=4, values_only=True))
    assert built.rows[AUDITS] == 1
    assert audit_rows[0][:9] == ("2026-11-24", hot.no, "动火作业", "3#罐区 东侧管廊", "孙立", "不合格",
                                 f"10. {failed.items[9]}", "灭火器不足", failed.finding.no)
    assert [c.value for c in book[ROUNDS][3]] == [c.header for c in ROUND_COLUMNS]
    rounds = {r[0]: r for r in book[ROUNDS].iter_rows(min_row=4, values_only=True)}
    assert built.rows[ROUNDS] == 2
    assert rounds["3#罐区每班巡检"][1:] == ("3#罐区", "每班", "何亮", datetime(2026, 11, 24, 8, 0),
                                           datetime(2026, 11, 24, 16, 0), datetime(2026, 11, 24, 11, 0), "已完成",
                                           f"2. {tank.items[1]}", done.findings[0], hot.no)
    assert rounds["动火作业每日检查"][7] == "未完成"      # due at 17:00 that day, never submitted
