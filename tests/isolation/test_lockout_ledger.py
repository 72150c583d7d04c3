"""隔离台账 and 交接班记录 in the exported ledger: what was isolated, by whom, for which permits; who handed over."""
from __future__ import annotations

from openpyxl import load_workbook

from exports.build import build_ledger
from exports.period import month
from exports.run import Run
from exports.scope import Scope
from models import find_person
from tests.isolation.test_points import isolate, to_close
from tests.workflow.test_rules import clock_for, hot, working
from isolation import points
from workflow import check_in, handover

who = find_person


def test_the_ledger_lists_each_point_with_its_permits_and_each_handover(plant, tmp_path):
    first, second = hot("二级"), hot("二级", guardians=("weidong",))
    clock = clock_for(first)
    isolate(first, clock, tag_no="T-01")
    isolate(second, clock)
    points.verify("V-101", by=who("chuwei"), now=clock.tick())
    working(first, clock)
    handover.request(first.no, "heliang", by=who("chuwei"), now=clock.tick())
    row_id = first.handovers.get().id
    handover.confirm(row_id, by=who("chuwei"), now=clock.tick())
    check_in(first.no, by=who("heliang"), now=clock.tick())
    handover.confirm(row_id, by=who("heliang"), now=clock.tick())
    built = build_ledger(Scope(month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    assert built.rows["隔离台账"] == 1 and built.rows["交接班记录"] == 1
    book = load_workbook(built.path)
    point = [c.value for c in book["隔离台账"][4]]
    assert point[:6] == ["V-101", "阀门", "关阀上锁", "L-01", "T-01", "朱岩"] and point[7] == "褚卫"
    assert point[10] == "已确认" and point[11] == f"{first.no}（依赖）、{second.no}（依赖）"
    handed = [c.value for c in book["交接班记录"][4]]
    assert handed[:5] == [first.no, "监护人", "褚卫", "何亮", "已完成"]
    assert "能量隔离：V-101 已确认" in handed[8]
