"""月度作业许可分析: charts beside their tables, figures that match the database, and the weighted score."""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from exports import weights
from exports.build import build_report
from exports.period import month as read_month
from exports.run import Run
from models import Step
from models.permit import Permit
from workflow import template as templates

NOVEMBER = read_month("2026-11")


def _report(tmp_path, items=None, name="report.xlsx"):
    built = build_report(NOVEMBER, tmp_path / name, Run.current(), items)
    return built, load_workbook(built.path)


def _refs(chart) -> list[tuple[str, str]]:
    def ref(axis):
        return (axis.numRef or axis.strRef).f if axis is not None else None
    return [(ref(s.val), ref(s.cat)) for s in chart.series]


def test_each_table_has_its_native_chart_over_exactly_its_rows(month, tmp_path):
    _, book = _report(tmp_path)
    assert book.sheetnames == ["概览", "综合评价", "类型与级别", "每日作业", "步骤时效", "报警响应", "隐患整改",
                               "作业抽查", "权重配置"]
    types = book["类型与级别"]
    (chart,) = types._charts
    rows = 3 + len({p.work_type for p in Permit.select()})
    grades = [c.value for c in types[3]][1:-1]
    assert _refs(chart) == [(f"'类型与级别'!${col}${4}:${col}${rows}", f"'类型与级别'!$A$4:$A${rows}")
                            for col in "BCDEFG"[:len(grades)]]
    assert [s.tx.strRef.f for s in chart.series][0] == "'类型与级别'!B3"
    wait, late = book["步骤时效"]._charts
    steps = book["步骤时效"].max_row
    assert _refs(wait) == [(f"'步骤时效'!$C$4:$C${steps}", f"'步骤时效'!$A$4:$A${steps}")]
    assert len(late.series) == 2
    assert len(book["报警响应"]._charts) == 1 and len(book["每日作业"]._charts) == 1
    # The first page shows the month: the score chart and every table's chart again.
    assert len(book["概览"]._charts) == 6
    assert book["概览"].page_setup.fitToHeight == 1


def test_the_figures_match_the_database(month, tmp_path):
    _, book = _report(tmp_path)
    types = book["类型与级别"]
    headers = [c.value for c in types[3]]
    counted = Counter()
    for row in types.iter_rows(min_row=4, values_only=True):
        if row[0] != "合计":
            counted.update({(row[0], g): n for g, n in zip(headers[1:-1], row[1:-1]) if n})
            assert row[-1] == sum(row[1:-1])
    expected = Counter((templates.get(p.work_type).name, p.grade if p.grade not in (None, "default") else "不分级")
                       for p in Permit.select())
    assert counted == expected
    assert list(types.iter_rows(min_row=types.max_row, values_only=True))[0][-1] == Permit.select().count()
    overview = {r[0]: r[1] for r in book["概览"].iter_rows(min_row=4, values_only=True)}
    assert overview["作业票总数"] == 4 and overview["已关闭"] == 3 and overview["驳回"] == 1
    assert overview["合规率"] == 100.0 and overview["预警响应率"] == 100.0 and overview["平均响应时间"] == 75.0
    steps = {r[0]: r for r in book["步骤时效"].iter_rows(min_row=4, values_only=True)}
    done = Step.select().where((Step.name == "作业计划") & (Step.state == "done")).count()
    assert steps["作业计划"][1] == done


def test_a_start_before_approval_or_a_late_step_makes_a_permit_non_compliant(month, tmp_path):
    hot, height = month[0], month[1]
    # The last approval signed (the grade may skip some: those have no completion time).
    approval = (Step.select().where((Step.permit == hot) & (Step.phase == "approve") & (Step.state == "done"))
                .order_by(Step.seq.desc()).get())
    Permit.update(started_at=approval.completed_at - timedelta(minutes=1)).where(Permit.id == hot.id).execute()
    plan = Step.get((Step.permit == height) & (Step.key == "plan"))
    Step.update(completed_at=plan.due_at + timedelta(minutes=1)).where(Step.id == plan.id).execute()
    _, book = _report(tmp_path)
    overview = {r[0]: r for r in book["概览"].iter_rows(min_row=4, values_only=True)}
    assert overview["合规率"][1] == 50.0
    assert "超时签字 1" in overview["合规率"][3] and "先干后批 1" in overview["合规率"][3]
    steps = {r[0]: r for r in book["步骤时效"].iter_rows(min_row=4, values_only=True)}
    assert steps["作业计划"][3] == 1


def test_the_score_is_live_formulas_over_the_weights_sheet_and_python_agrees(month, tmp_path):
    built, book = _report(tmp_path)
    # compliance 100, first pass 75 → 流程合规 90; every other group 100 → Q = 0.35·90 + 0.65·100.
    assert built.summary.endswith("综合评价得分 Q = 96.5 分")
    score = book["综合评价"]
    assert score["C4"].value == "='权重配置'!E4" and score["F4"].value == "='权重配置'!E5"
    assert score["D4"].value.startswith('=IF(SUMPRODUCT(F4:F5,--ISNUMBER(G4:G5))=0')
    q_row = next(r for r in range(4, 20) if score.cell(r, 1).value == "综合评价得分 Q")
    assert book["概览"].cell(book["概览"].max_row, 2).value == f"='综合评价'!D{q_row}"
    assert [score.cell(r, 7).value for r in range(4, q_row)] == [100.0, 75.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0]
    config = book["权重配置"]
    assert [c.value for c in config[3]] == list(weights.HEADERS)
    assert config["E4"].fill.fgColor.rgb.endswith("FFF2CC")   # the cells an admin edits


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_spreadsheet_program_computes_the_same_score(month, tmp_path):
    built, _ = _report(tmp_path)
    subprocess.run(["soffice", "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir",
                    str(tmp_path / "calc"), str(built.path)], check=True, capture_output=True, timeout=120)
    computed = load_workbook(tmp_path / "calc" / built.path.name, data_only=True)
    assert computed["概览"].cell(computed["概览"].max_row, 2).value == pytest.approx(96.5)


def test_edited_weights_are_read_back_and_change_the_score(month, tmp_path):
    built, book = _report(tmp_path)
    config = book["权重配置"]
    rows = {config.cell(r, 2).value: r for r in range(4, 4 + len(weights.DEFAULT))}
    config.cell(rows["process"], 5).value, config.cell(rows["alarm"], 5).value = 0.6, 0.0
    book.save(tmp_path / "edited.xlsx")
    items = weights.read(tmp_path / "edited.xlsx")
    assert {i.code: i.weight for i in weights.uppers(items)} == {"process": 0.6, "timeliness": 0.25,
                                                                "alarm": 0.0, "closure": 0.15}
    again, _ = _report(tmp_path, items, "again.xlsx")
    assert again.summary.endswith("Q = 94.0 分")   # 0.6·90 + 0.25·100 + 0.15·100


@pytest.mark.parametrize("change, where, message", [
    ({"process": 0.5}, (None, "权重"), "一级指标的权重之和为 1.15，应为 1"),
    ({"compliance": "六成"}, ("row", "权重"), "应为 0 到 1 之间的数"),
    ({"compliance": 1.5}, ("row", "权重"), "应为 0 到 1 之间的数"),
    ({"first_pass": 0.1}, (None, "权重"), "流程合规的权重之和为 0.7，应为 1"),
])
def test_a_wrong_weight_is_refused_with_where_and_why(tmp_path, change, where, message):
    from exports.sheet import Heading, new_book
    book = new_book()
    weights.write_sheet(book, Heading("示例化工厂", "—", datetime(2026, 12, 1)))
    book.save(tmp_path / "w.xlsx")
    edited = load_workbook(tmp_path / "w.xlsx")
    sheet = edited["权重配置"]
    rows = {sheet.cell(r, 2).value: r for r in range(4, 4 + len(weights.DEFAULT))}
    for code, value in change.items():
        sheet.cell(rows[code], 5).value = value
    edited.save(tmp_path / "w.xlsx")
    with pytest.raises(weights.WeightsError) as caught:
        weights.read(tmp_path / "w.xlsx")
    first = caught.value.errors[0]
    expected_row = rows[next(iter(change))] if where[0] == "row" else None
    assert (first.row, first.column) == (expected_row, where[1]) and message in first.message


def test_an_empty_month_gives_a_valid_report_that_says_no_data(plant, tmp_path):
    built = build_report(read_month("2031-02"), tmp_path / "empty.xlsx", Run.current())
    book = load_workbook(built.path)
    assert built.summary == "作业票 0 张，综合评价得分 Q = 无数据"
    for name in ("类型与级别", "每日作业", "步骤时效", "报警响应"):
        assert book[name]["A4"].value == "无数据" and not book[name]._charts
    assert book["概览"]["B4"].value == 0
