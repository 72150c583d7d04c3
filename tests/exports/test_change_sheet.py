"""变更记录 in the exported ledger: each change, what it changed, who decided, and how it ended."""
from __future__ import annotations

from datetime import timedelta

from openpyxl import load_workbook

from exports.build import build_ledger
from exports.period import month
from exports.run import Run
from exports.scope import Scope
from workflow import request_change
from workflow.changes import decide
from tests.workflow.test_transitions import approve_change, asked, load, permit_in, who


def test_the_ledger_lists_each_change_with_its_decisions(plant, tmp_path):
    no, clock = permit_in("in_progress", hours=4)
    end = load(no).planned_end
    request_change(no, by=who("zhuyan"), changes={"crew": [who("jianghan"), who("weidong")]}, reason="沈力调岗",
                   now=clock.tick())
    approve_change(no, clock)
    request_change(no, by=who("zhuyan"), changes={"planned_end": end + timedelta(hours=1)}, reason="焊口返修",
                   now=clock.tick())
    refuser = who(asked(change_of_latest(no))[0])
    decide(change_of_latest(no).id, by=refuser, approve=False, reason="另行安排", now=clock.tick())
    built = build_ledger(Scope(month("2026-11")), tmp_path / "ledger.xlsx", Run.current())
    assert built.rows["变更记录"] == 2
    sheet = load_workbook(built.path)["变更记录"]
    first, second = ([c.value for c in sheet[row]] for row in (4, 5))
    assert first[:2] == [no, "朱岩"] and first[3] == "作业人：蒋焊、沈力 → 蒋焊、卫东"
    assert (first[4], first[5]) == ("沈力调岗", "已同意") and first[6].count("同意") == 2
    assert second[3].startswith("结束时间：") and (second[5], second[6]) == ("未同意", f"{refuser.name} 不同意（另行安排）")


def change_of_latest(no):
    from models import ChangeRequest
    return ChangeRequest.select().where(ChangeRequest.permit == load(no)).order_by(ChangeRequest.id.desc()).first()
