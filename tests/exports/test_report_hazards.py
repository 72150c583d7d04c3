"""月度作业许可分析's hazard KPIs: findings found and closed, on-time rectification, overdue by unit, the audit
pass rate and inspection rounds on time, read back from the workbook; a failed audit makes its permit non-compliant."""
from __future__ import annotations

import re
from datetime import date, timedelta

from openpyxl import load_workbook

from exports.build import build_report
from exports.inspection_import import load_inspections
from exports.period import month as read_month
from exports.run import Run
from exports.samples.build_sample_inspections import OUT as SAMPLE
from hazards import audits, findings, inspections
from models import CheckIn, Inspection, InspectionPlan, find_person
from tests.conftest import MORNING
from tests.emergency.test_emergency_stop import running_at
from workflow.walkthrough import Clock

NOVEMBER = read_month("2026-11")
LATER = MORNING + timedelta(days=3)   # the export's moment: some deadlines passed, one not yet


def _report(tmp_path, name="report.xlsx"):
    built = build_report(NOVEMBER, tmp_path / name, Run.current(now=LATER))
    return load_workbook(built.path)


def _overview(book) -> dict:
    return {r[0]: r for r in book["概览"].iter_rows(min_row=4, values_only=True)}


def _compliant(overview: dict) -> int:
    return int(re.search(r"按流程完成 (\d+) 张", overview["合规率"][3]).group(1))


def _rectified(words: str, account: str, deadline, at):
    f = findings.report(words, by=find_person("chuwei"), now=at)
    findings.assign(f.no, account, deadline, by=find_person("sunli"), now=at + timedelta(minutes=5))
    findings.start(f.no, by=find_person(account), now=at + timedelta(minutes=10))
    findings.add_photo(f.no, by=find_person(account), data=b"after", now=at + timedelta(minutes=20))
    findings.rectify(f.no, "已整改", by=find_person(account), now=at + timedelta(minutes=30))
    return f


def _assigned(words: str, account: str, deadline, at):
    f = findings.report(words, by=find_person("chuwei"), now=at)
    findings.assign(f.no, account, deadline, by=find_person("sunli"), now=at + timedelta(minutes=5))
    return f


def test_findings_on_time_and_overdue_by_unit_with_their_chart(plant, tmp_path):
    on_time = _rectified("3#罐区 东侧消防通道被杂物堵塞", "jianghan", MORNING + timedelta(hours=4), MORNING)
    findings.recheck(on_time.no, True, by=find_person("chuwei"), now=MORNING + timedelta(hours=1))
    # Rectified after its deadline, and re-checked: closed, but late.
    _rectified("3#罐区 西侧爬梯护笼松动", "jianghan", MORNING + timedelta(minutes=20), MORNING)
    _assigned("3#罐区 围堰排水阀未关", "zhuyan", MORNING + timedelta(hours=6), MORNING)          # past, not rectified
    _assigned("3#罐区 静电接地线断开", "zhuyan", MORNING + timedelta(days=5), MORNING)          # not due yet
    findings.report("3#罐区 警示牌缺失", by=find_person("chuwei"), now=MORNING)                  # not assigned
    book = _report(tmp_path)

    overview = _overview(book)
    assert overview["本月发现隐患"][1] == 5 and overview["本月关闭隐患"][1] == 1
    assert overview["按期整改率"][1] == round(100 / 3, 1)   # three deadlines decided, one met
    assert overview["超期隐患"][1] == 2
    jianghan, zhuyan = find_person("jianghan").department.name, find_person("zhuyan").department.name
    sheet = book["隐患整改"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(min_row=4, values_only=True)}
    expected = {"未指派单位": (1, 0, 0, 0, None)}
    if jianghan == zhuyan:
        expected[jianghan] = (4, 1, 3, 2, round(100 / 3, 1))
    else:
        expected |= {jianghan: (2, 1, 2, 1, 50.0), zhuyan: (2, 0, 1, 1, 0.0)}
    assert rows == expected
    (chart,) = sheet._charts
    last = 3 + len(expected)
    assert [s.val.numRef.f for s in chart.series] == [f"'隐患整改'!${c}$4:${c}${last}" for c in "BCE"]
    assert {(s.cat.numRef or s.cat.strRef).f for s in chart.series} == {f"'隐患整改'!$A$4:$A${last}"}
    assert not book["作业抽查"]._charts            # no audit this month: the table says so, no empty chart
    assert len(book["概览"]._charts) == 2           # the score and the hazards chart again


def test_audit_pass_rate_and_a_failed_audit_makes_its_permit_non_compliant(plant, tmp_path):
    clock = Clock(MORNING - timedelta(hours=2))
    permits = [running_at("hot_work", "3#罐区 东侧管廊", clock) for _ in range(3)]
    audits.draw(date(2026, 11, 24), seed="all", share=1.0, now=MORNING + timedelta(hours=2))
    officer = find_person("sunli")
    for permit in permits:
        CheckIn.create(permit=permit, person=officer, at=MORNING + timedelta(hours=3), source="scan", kind="visit")
    audits.record(permits[0].no, True, by=officer, now=MORNING + timedelta(hours=3))
    audits.record(permits[1].no, True, by=officer, now=MORNING + timedelta(hours=3))
    before = _overview(_report(tmp_path, "before.xlsx"))
    assert "抽查不合格 0" in before["合规率"][3]

    audits.record(permits[2].no, False, "3 灭火器不足", by=officer, now=MORNING + timedelta(hours=4))
    book = _report(tmp_path)
    overview = _overview(book)
    assert overview["抽查合格率"][1] == round(200 / 3, 1)
    assert "本月完成抽查 3 张，合格 2 张" in overview["抽查合格率"][3]
    # The same permits, one fewer compliant: the failed audit and nothing else.
    assert "抽查不合格 1" in overview["合规率"][3]
    assert _compliant(overview) == _compliant(before) - 1
    assert overview["本月发现隐患"][1] == 1          # the failed item opened a finding
    sheet = book["作业抽查"]
    assert list(sheet.iter_rows(min_row=4, values_only=True)) == [("动火作业", 3, 2, round(200 / 3, 1))]
    (chart,) = sheet._charts
    assert [s.val.numRef.f for s in chart.series] == ["'作业抽查'!$B$4", "'作业抽查'!$C$4"]


def test_rounds_on_time_count_the_rounds_due_in_the_month(plant, tmp_path):
    load_inspections(SAMPLE)
    assert inspections.open_due(MORNING + timedelta(hours=1)) == 2   # the tank farm's shift round and hot work's day
    tank = Inspection.get(Inspection.plan == InspectionPlan.get(InspectionPlan.name == "3#罐区每班巡检"))
    heliang = find_person("heliang")
    hot = running_at("hot_work", "3#罐区 东侧管廊", Clock(MORNING - timedelta(hours=2)))
    CheckIn.create(permit=hot, person=heliang, at=MORNING + timedelta(hours=2), source="qr", kind="visit")
    inspections.record(tank.id, [], by=heliang, now=MORNING + timedelta(hours=3))
    overview = _overview(_report(tmp_path))
    # The day round was never submitted and is past its due time by the export: due, not on time.
    assert overview["巡检按时完成率"][1] == 50.0
    assert "2 次，按时 1 次" in overview["巡检按时完成率"][3]
