"""The ledgers opened as an inspector would: headers, real dates and numbers, frozen header, filter,
title block, and totals that match the database."""
from __future__ import annotations

from datetime import datetime, timedelta

from openpyxl import load_workbook

from exports import certificates, ledger, records, rollups
from exports.build import build_certificates, build_ledger
from exports.period import month as read_month
from exports.run import Run
from exports.scope import Scope, from_words
from exports.sheet import Column, Heading, Sheet, new_book
from models import Alarm, GasReading, Signature
from models.permit import Permit
from tests.conftest import MORNING

NOVEMBER = read_month("2026-11")


def _ledger(tmp_path, scope=None):
    built = build_ledger(scope or Scope(NOVEMBER), tmp_path / "ledger.xlsx", Run.current())
    return built, load_workbook(built.path)


def test_every_ledger_sheet_has_its_title_block_frozen_header_filter_and_widths(month, tmp_path):
    _, book = _ledger(tmp_path)
    assert book.sheetnames == ["作业票台账", "签字明细", "气体检测记录", "检测仪分钟汇总", "报警记录", "隔离台账",
                               "交接班记录", "应急记录", "变更记录", "隐患排查治理台账", "抽查记录",
                               "巡检记录", "培训记录", "工器具台账", "领用记录", "班前会记录"]
    expected = {"作业票台账": ledger.LEDGER_COLUMNS, "签字明细": ledger.SIGNATURE_COLUMNS,
                "气体检测记录": records.READING_COLUMNS, "检测仪分钟汇总": rollups.COLUMNS,
                "报警记录": records.ALARM_COLUMNS}
    for name, columns in expected.items():
        sheet = book[name]
        assert sheet["A1"].value == f"{name}（2026-11）" and sheet["A1"].font.b
        assert "示例化工厂" in sheet["A2"].value and "期间：2026-11（工厂时间）" in sheet["A2"].value
        assert "导出时间：" in sheet["A2"].value
        assert [c.value for c in sheet[3]] == [c.header for c in columns]
        assert sheet.freeze_panes in ("A4", "B4")
        assert sheet.auto_filter.ref == f"A3:{sheet.cell(3, len(columns)).column_letter}{sheet.max_row}"
        assert sheet.column_dimensions["A"].width == columns[0].width


def test_the_ledger_totals_match_the_database_and_cells_are_typed(month, tmp_path):
    built, book = _ledger(tmp_path)
    permits = book["作业票台账"]
    rows = list(permits.iter_rows(min_row=4, values_only=True))
    assert [r[0] for r in rows] == [p.no for p in Permit.select().order_by(Permit.id)]
    assert built.rows == {"作业票台账": 4, "签字明细": Signature.select().count(),
                          "气体检测记录": GasReading.select().count(), "检测仪分钟汇总": 0, "报警记录": 1,
                          "隔离台账": 1, "交接班记录": 0, "应急记录": 0, "变更记录": 0, "隐患排查治理台账": 0,
                          "抽查记录": 0, "巡检记录": 0, "培训记录": 0, "工器具台账": 0, "领用记录": 0,
                          "班前会记录": 0}
    hot = dict(zip([c.header for c in ledger.LEDGER_COLUMNS], rows[0]))
    assert hot["作业类型"] == "动火作业" and hot["状态"] == "已关闭"
    # Stored 00:00 UTC is 08:00 at the plant, and a date stays a date for Excel.
    assert hot["计划开始"] == datetime(2026, 11, 24, 8, 0)
    assert isinstance(hot["关闭时间"], datetime) and hot["关闭时间"] > hot["开工时间"] > hot["批准时间"]
    assert isinstance(hot["O2 %vol"], float) and hot["气体结论"] == "合格"
    assert hot["暂停次数"] == 0 and "作业计划 郑计 确认" in hot["签字记录"]
    refused = dict(zip([c.header for c in ledger.LEDGER_COLUMNS], rows[3]))
    assert refused["状态"] == "已驳回" and refused["开工时间"] is None
    signed = list(book["签字明细"].iter_rows(min_row=4, values_only=True))
    assert ("作业评估（JSA）", "王评", "驳回") in {(r[2], r[4], r[5]) for r in signed}
    assert all(isinstance(r[6], datetime) for r in signed)


def test_the_alarm_ledger_says_who_acknowledged_and_how_fast(month, tmp_path):
    _, book = _ledger(tmp_path)
    first = next(book["报警记录"].iter_rows(min_row=4, values_only=True))
    row = dict(zip([c.header for c in records.ALARM_COLUMNS], first))
    alarm = Alarm.get()
    assert row["报警编号"] == alarm.id and row["级别"] == "一级" and row["读数"] == 30.0
    assert row["首先确认人"] == "朱岩" and row["响应时间（秒）"] == 75 and row["确认人数"] == 1
    assert row["涉及作业票"] == month[0].no and row["读数时间"] == datetime(2026, 11, 24, 11, 0)


def test_filters_keep_only_the_chosen_type_unit_and_state(month, tmp_path):
    _, book = _ledger(tmp_path, from_words(NOVEMBER, ["动火作业", "已关闭", "常减压车间"]))
    assert [r[0] for r in book["作业票台账"].iter_rows(min_row=4, values_only=True)] == [month[0].no]
    assert "筛选 作业类型：动火作业，单位：常减压车间，状态：已关闭" in book["作业票台账"]["A2"].value
    readings = {r[1] for r in book["气体检测记录"].iter_rows(min_row=4, values_only=True)}
    assert readings == {month[0].no}
    assert book["报警记录"].cell(4, 1).value == Alarm.get().id   # the alarm concerns the hot work
    _, other = _ledger(tmp_path, from_words(NOVEMBER, ["高处作业"]))
    assert other["报警记录"].cell(4, 1).value == "无数据"


def test_a_detector_reading_of_no_permit_is_listed_unjudged(month, tmp_path):
    GasReading.create(permit=None, device="GD-0001", taken_at=MORNING + timedelta(hours=5), o2=20.9, ex=0.0,
                      passed=None, verdict={})
    _, book = _ledger(tmp_path)
    last = dict(zip([c.header for c in records.READING_COLUMNS],
                    list(book["气体检测记录"].iter_rows(min_row=4, values_only=True))[-1]))
    assert last["作业票编号"] is None and last["来源"] == "检测仪" and last["结论"] == "未判定"
    assert "未绑定作业票" in last["判定说明（对照本票限值）"] and last["其他气体"] is None


def test_readings_and_rolled_up_minutes_of_other_gases_show_them_with_chinese_labels_and_units(month, tmp_path):
    from models import ReadingRollup
    GasReading.create(permit=None, device="GD-0040", taken_at=MORNING + timedelta(hours=5), o2=20.9,
                      others={"NH3": 5.0, "CL2": 0.5}, passed=None, verdict={})
    ReadingRollup.create(device="GD-0040", minute=MORNING + timedelta(hours=4), count=3,
                         last_at=MORNING + timedelta(hours=4, seconds=40), o2_min=20.9, o2_max=20.9, o2_last=20.9,
                         others={"NH3": [2.0, 6.0, 4.0]})
    _, book = _ledger(tmp_path)
    last = dict(zip([c.header for c in records.READING_COLUMNS],
                    list(book["气体检测记录"].iter_rows(min_row=4, values_only=True))[-1]))
    assert last["其他气体"] == "氨 5.0 mg/m³；氯气 0.5 mg/m³"
    (minute,) = book["检测仪分钟汇总"].iter_rows(min_row=4, values_only=True)
    row = dict(zip([c.header for c in rollups.COLUMNS], minute))
    assert row["其他气体（最低/最高/末值）"] == "氨 2/6/4 mg/m³" and row["O2 末值"] == 20.9


def test_an_empty_period_gives_a_valid_workbook_that_says_no_data(plant, tmp_path):
    built, book = _ledger(tmp_path, Scope(read_month("2031-02")))
    assert set(built.rows.values()) == {0}
    for sheet in book:
        assert sheet["A4"].value == "无数据" and sheet["B4"].value
        assert sheet.auto_filter.ref.startswith("A3:")


def test_past_excels_row_limit_a_sheet_goes_on_in_a_continuation_right_behind_it(tmp_path):
    book = new_book()
    heading = Heading("示例化工厂", "2026-11", datetime(2026, 12, 1, 8, 0))
    long = Sheet(book, "签字明细", (Column("序号"),), title="签字明细", heading=heading, max_rows=6)
    Sheet(book, "气体检测记录", (Column("序号"),), title="气体检测记录", heading=heading).finish()
    for n in range(7):
        long.append([n])
    assert long.finish() == 7
    book.save(tmp_path / "long.xlsx")
    read = load_workbook(tmp_path / "long.xlsx")
    assert read.sheetnames == ["签字明细", "签字明细（续2）", "签字明细（续3）", "气体检测记录"]
    assert [[r[0] for r in read[name].iter_rows(min_row=4, values_only=True)] for name in read.sheetnames[:3]] \
        == [[0, 1, 2], [3, 4, 5], [6]]
    assert read["签字明细（续2）"]["A1"].value == "签字明细（续2）" and read["签字明细（续2）"]["A3"].value == "序号"
    assert read["签字明细（续2）"].auto_filter.ref == "A3:A6"


def test_the_certificate_sheet_says_no_data_until_the_registry_plugs_in(plant, tmp_path):
    certificates.unregister()   # create_app() plugs the registry (#7) in; this is about the seam itself
    built = build_certificates(NOVEMBER, tmp_path / "c.xlsx", Run.current())
    sheet = load_workbook(built.path)["持证情况统计表"]
    assert (sheet["A4"].value, sheet["B4"].value) == ("无数据", certificates.NOT_REGISTERED)
    assert built.summary == f"无数据：{certificates.NOT_REGISTERED}"
    certificates.register(lambda period, now: [["特种作业操作证（焊接与热切割）", "作业人", 5, 4, 3, 1, 0, 80.0]])
    try:
        built = build_certificates(NOVEMBER, tmp_path / "c2.xlsx", Run.current())
    finally:
        certificates.unregister()
    row = [c.value for c in load_workbook(built.path)["持证情况统计表"][4]]
    assert row[:3] == ["特种作业操作证（焊接与热切割）", "作业人", 5] and built.rows == {"持证情况统计表": 1}


def test_progress_climbs_with_the_pages_and_stops_short_of_done(month, tmp_path, monkeypatch):
    from exports import run as runs
    monkeypatch.setattr(runs, "PAGE", 1)
    monkeypatch.setattr(ledger, "PAGE", 1)
    told = []
    build_ledger(Scope(NOVEMBER), tmp_path / "p.xlsx", Run.current(told.append))
    assert told == sorted(told) and told[0] > 0 and told[-1] == 99 and len(told) >= 4
