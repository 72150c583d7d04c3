"""Emergencies in the ledgers: their own 应急记录 sheet, never counted as gas alarms in 报警记录 or the KPIs."""
from __future__ import annotations

from openpyxl import load_workbook

from emergency import stop
from exports import kpi
from exports.build import build_ledger
from exports.period import month
from exports.run import Run
from exports.scope import Scope
from models import Alarm, find_person
from sensors.alarms import acknowledge
from tests.emergency.test_emergency_stop import clock, running_at  # noqa: F401  (fixture)

NOVEMBER = "2026-11"


def test_a_drill_is_in_its_own_sheet_and_not_in_the_alarm_ledger_or_figures(clock, tmp_path):
    running_at("hot_work", "3#罐区 东侧管廊", clock)
    e = stop.raise_emergency("3#罐区 模拟泄漏", by=find_person("sunli"), drill=True, now=clock.tick()).emergency
    acknowledge(e.alarm_id, by=find_person("jianghan"), channel="cli", now=clock.tick())
    stop.close("3#罐区 演练结束", by=find_person("sunli"), now=clock.tick())
    assert Alarm.select().count() == 1          # the drill's carrier alarm is the only Alarm row

    built = build_ledger(Scope(month(NOVEMBER)), tmp_path / "ledger.xlsx", Run.current())
    assert built.rows["报警记录"] == 0 and built.rows["应急记录"] == 1
    row = dict(zip([c.value for c in load_workbook(built.path)["应急记录"][3]],
                   [c.value for c in load_workbook(built.path)["应急记录"][4]]))
    assert row["类别"] == "演练" and row["区域"] == "3#罐区" and row["发起人"] == "孙立"
    assert row["应撤离人数"] == 3 and row["已撤离人数"] == 1
    assert row["解除人"] == "孙立" and row["处置情况"] == "演练结束"

    figures = kpi.compute(Scope(month(NOVEMBER)), Run.current())
    assert figures.alarm_total.raised == 0 and not figures.alarms
