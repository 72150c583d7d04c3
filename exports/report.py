"""月度作业许可分析: the month's figures as tables, each with a native Excel chart beside it, and the score.

The score cells are Excel formulas over the 权重配置 sheet, so a weight changed there re-scores the
workbook; the same score is computed here too, for the chat message and the tests.
"""
from __future__ import annotations

from openpyxl.chart import BarChart, Reference
from openpyxl.utils import get_column_letter

from . import kpi, weights
from .kpi import Figures
from .run import Run
from .scope import Scope
from .sheet import HEADER_ALIGN, HEADER_FILL, HEADER_FONT, HEADER_ROW, Column, Sheet, as_cell, formula, styled
from .values import percent, state

OVERVIEW, SCORE, TYPES, DAILY, STEPS, ALARMS = "概览", "综合评价", "类型与级别", "每日作业", "步骤时效", "报警响应"
HAZARDS, AUDITS = "隐患整改", "作业抽查"
FIRST = HEADER_ROW + 1     # the first data row of every table
SCORE_FORMAT = "0.0"


def _sheet(book, name: str, columns: tuple[Column, ...], run: Run, scope: Scope, empty: str) -> Sheet:
    return Sheet(book, name, columns, title=f"月度作业许可分析 · {name}（{scope.period.label}）",
                 heading=run.heading(scope.period.label), empty_note=empty)


def _chart(kind, title: str, *, y_title: str = "", width: float = 15, height: float = 8.5, **options):
    chart = kind()
    for name, value in options.items():
        setattr(chart, name, value)
    chart.title, chart.y_axis.title, chart.width, chart.height = title, y_title, width, height
    # openpyxl hides axes by default since 3.1; Excel and LibreOffice then draw none.
    chart.x_axis.delete = chart.y_axis.delete = False
    return chart


def _add_series(chart, ws, *, columns: range, rows: int, categories: int = 1) -> None:
    """Plot the columns (headers as series names) over rows data rows, categories from one column."""
    data = Reference(ws, min_col=columns.start, max_col=columns.stop - 1, min_row=HEADER_ROW,
                     max_row=HEADER_ROW + rows)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=categories, min_row=FIRST, max_row=HEADER_ROW + rows))


def indicator_values(f: Figures) -> dict[str, tuple[float | None, str]]:
    """Return each 二级 indicator's score LI (0–100, None for no data) and the counts behind it."""
    alarms = f.alarm_total
    overdue = sum(s.overdue for s in f.steps.values())
    escalated = sum(s.escalated for s in f.steps.values())
    pairs = {
        "compliance": (f.compliant, f.permits), "first_pass": (f.first_pass, f.permits),
        "on_time": (f.steps_done - overdue, f.steps_done), "no_escalation": (f.steps_done - escalated, f.steps_done),
        "response_rate": (alarms.in_time, alarms.raised), "ack_rate": (alarms.acknowledged, alarms.raised),
        "closed_rate": (f.closed_after_start, f.started), "first_acceptance": (f.accepted_first_time, f.accepted),
    }
    return {code: (percent(part, whole), f"{part} / {whole}" if whole else "无数据")
            for code, (part, whole) in pairs.items()}


def write(book, scope: Scope, run: Run, items: tuple[weights.Item, ...]) -> tuple[Figures, float | None]:
    """Write the report's sheets; return the figures and the score Q (None when nothing was scored)."""
    figures = kpi.compute(scope, run)
    values = indicator_values(figures)
    _, q = weights.score(items, {code: value for code, (value, _) in values.items()})
    overview = _sheet(book, OVERVIEW, (Column("指标", 18), Column("数值", 10), Column("单位", 6), Column("说明", 46)),
                      run, scope, "")
    score_sheet = book.create_sheet(SCORE)   # created now so the tabs keep their order
    charts = [_types(book, scope, run, figures), _daily(book, scope, run, figures),
              *_steps(book, scope, run, figures), _alarms(book, scope, run, figures),
              _hazards(book, scope, run, figures), _audits(book, scope, run, figures)]
    weight_rows = weights.write_sheet(book, run.heading(scope.period.label), items)
    q_cell, ui = _score(score_sheet, run, scope, items, values, weight_rows)
    _overview(overview, figures, q_cell, [ui, *charts])
    return figures, q


def _overview(sheet: Sheet, f: Figures, q_cell: str, charts: list) -> None:
    """Write the month at a glance: the key figures, then every chart in a two-column grid."""
    alarms, h = f.alarm_total, f.hazards
    rows = [
        ("作业票总数", f.permits, "张", "计划开始时间在本月、已提交过的作业票（含退回修改中的）"),
        ("已关闭", f.by_state.get("closed", 0), "张", "；".join(f"{state(s)} {n}" for s, n in sorted(f.by_state.items()))),
        ("合规率", percent(f.compliant, f.permits), "%",
         f"按流程完成 {f.compliant} 张；顺序不符 {f.out_of_order}，超时签字 {f.late}，先干后批 {f.started_early}，"
         f"抽查不合格 {f.audit_failed}"),
        ("平均闭环周期", kpi.mean(f.cycles), "小时", f"提交到关闭，已关闭 {len(f.cycles)} 张"),
        ("P90 闭环周期", kpi.p90(f.cycles), "小时", "九成作业票在此时间内闭环"),
        ("预警响应率", percent(alarms.in_time, alarms.raised), "%",
         f"{f.resend_seconds} 秒内（重发前）确认 {alarms.in_time} / {alarms.raised}"),
        ("平均响应时间", kpi.mean(alarms.seconds), "秒", "读数到第一个“确认收到”"),
        ("P90 响应时间", kpi.p90(alarms.seconds), "秒", ""),
        ("驳回", f.rejections, "次", ""), ("退回修改", f.returns, "次", ""),
        ("验收不通过（整改）", f.rectifications, "次", ""),
        ("暂停", f.suspensions, "次", f"已开工 {f.started} 张中 {f.suspended} 张被暂停过"),
        ("超时上报（升级）", sum(s.escalations for s in f.steps.values()), "次", "步骤超过时限后逐级上报"),
        ("本月发现隐患", h.total("found"), "项", "发现时间在本月"),
        ("本月关闭隐患", h.total("closed"), "项", "复查通过、关闭时间在本月"),
        ("按期整改率", percent(h.total("due") - h.total("overdue"), h.total("due")), "%",
         f"整改期限在本月且已整改或已过期 {h.total('due')} 项，按期整改 {h.total('due') - h.total('overdue')} 项"),
        ("超期隐患", h.total("overdue"), "项", "整改期限在本月、逾期才整改或至今未整改；按责任单位见“隐患整改”"),
        ("抽查合格率", percent(h.audits_passed, h.audits_done), "%",
         f"本月完成抽查 {h.audits_done} 张，合格 {h.audits_passed} 张；不合格的作业票计为不合规"),
        ("巡检按时完成率", percent(h.rounds_on_time, h.rounds_due), "%",
         f"完成期限在本月且已提交或已过期 {h.rounds_due} 次，按时 {h.rounds_on_time} 次"),
    ]
    for row in rows:
        sheet.append(list(row))
    sheet.append(["综合评价得分 Q", formula(sheet.ws, f"={q_cell}", number_format=SCORE_FORMAT), "分",
                  "Q = Σ Kᵢ·UIᵢ，见“综合评价”“权重配置”"])
    sheet.finish()
    sheet.ws.page_setup.fitToHeight = 1   # the first page of a printout shows the whole month
    # Each chart is drawn again here from its sheet's table: the first page shows the whole month.
    cells = ["F3"] + [f"{column}{row}" for row in (27, 45, 63, 81) for column in ("A", "F")]
    for make, cell in zip([c for c in charts if c is not None], cells):
        sheet.ws.add_chart(make(), cell)


def _types(book, scope: Scope, run: Run, f: Figures):
    names = list(dict.fromkeys(name for name, _ in sorted(f.by_type_grade)))
    grades = [g for g in ("特级", "一级", "二级", "三级", "四级") if any(g == k[1] for k in f.by_type_grade)]
    grades += sorted({k[1] for k in f.by_type_grade} - set(grades) - {kpi.NO_GRADE})
    grades += [kpi.NO_GRADE] if any(k[1] == kpi.NO_GRADE for k in f.by_type_grade) else []
    columns = (Column("作业类型", 14),) + tuple(Column(g, 8) for g in grades) + (Column("合计", 8),)
    sheet = _sheet(book, TYPES, columns, run, scope, "本月没有作业票")
    for name in names:
        counts = [f.by_type_grade.get((name, g), 0) for g in grades]
        sheet.append([name, *counts, sum(counts)])
    if names:
        sheet.append(["合计", *[sum(f.by_type_grade.get((n, g), 0) for n in names) for g in grades], f.permits])
    sheet.finish()
    if not names:
        return None

    def make():
        chart = _chart(BarChart, "作业票：按类型与级别", y_title="张", type="col", grouping="stacked", overlap=100)
        _add_series(chart, sheet.ws, columns=range(2, 2 + len(grades)), rows=len(names))
        return chart
    sheet.ws.add_chart(make(), f"{get_column_letter(len(columns) + 2)}3")
    return make


def _daily(book, scope: Scope, run: Run, f: Figures):
    sheet = _sheet(book, DAILY, (Column("日期", 12), Column("作业票", 9), Column("其中已关闭", 11)), run, scope,
                   "本月没有作业票")
    days = sorted(f.per_day)
    for day in days:
        sheet.append([day, f.per_day[day], f.closed_per_day.get(day, 0)])
    sheet.finish()
    if not days:
        return None

    def make():
        chart = _chart(BarChart, "每日作业票（按计划开始日期）", y_title="张", type="col", overlap=-10)
        _add_series(chart, sheet.ws, columns=range(2, 4), rows=len(days))
        chart.x_axis.number_format = "d"   # the day of the month: a month's labels fit under the bars
        return chart
    sheet.ws.add_chart(make(), "E3")
    return make


def _steps(book, scope: Scope, run: Run, f: Figures) -> list:
    columns = (Column("步骤", 18), Column("完成次数", 9), Column("平均等待（分钟）", 12), Column("超时次数", 9),
               Column("超时率 %", 9), Column("升级次数", 9))
    sheet = _sheet(book, STEPS, columns, run, scope, "本月没有完成的步骤")
    names = sorted(f.steps, key=lambda n: -f.steps[n].done)
    for name in names:
        s = f.steps[name]
        sheet.append([name, s.done, s.average_wait, s.overdue, percent(s.overdue, s.done), s.escalations])
    sheet.finish()
    if not names:
        return [None, None]
    height = max(8.5, 0.55 * len(names))

    def wait():
        chart = _chart(BarChart, "各步骤平均等待", y_title="分钟", type="bar", height=height)
        _add_series(chart, sheet.ws, columns=range(3, 4), rows=len(names))
        return chart

    def late():
        chart = _chart(BarChart, "各步骤超时率 % 与升级次数", type="bar", height=height)
        _add_series(chart, sheet.ws, columns=range(5, 7), rows=len(names))
        return chart
    sheet.ws.add_chart(wait(), "H3")
    sheet.ws.add_chart(late(), "R3")
    return [wait, late]


def _alarms(book, scope: Scope, run: Run, f: Figures):
    columns = (Column("级别", 8), Column("报警数", 8), Column("已确认", 8), Column("按时确认", 9),
               Column("预警响应率 %", 12), Column("平均响应（秒）", 12), Column("P90 响应（秒）", 12))
    sheet = _sheet(book, ALARMS, columns, run, scope, "本月没有报警")
    levels = sorted(f.alarms)
    for level in levels:
        a = f.alarms[level]
        sheet.append([level, a.raised, a.acknowledged, a.in_time, percent(a.in_time, a.raised),
                      kpi.mean(a.seconds), kpi.p90(a.seconds)])
    sheet.finish()
    if not levels:
        return None

    def make():
        chart = _chart(BarChart, f"报警响应（{f.resend_seconds} 秒内确认为按时）", y_title="次", type="col")
        _add_series(chart, sheet.ws, columns=range(2, 5), rows=len(levels))
        return chart
    sheet.ws.add_chart(make(), "I3")
    return make


def _hazards(book, scope: Scope, run: Run, f: Figures):
    columns = (Column("责任单位", 16), Column("本月发现", 9), Column("本月关闭", 9), Column("到期应整改", 10),
               Column("超期", 8), Column("按期整改率 %", 12))
    sheet = _sheet(book, HAZARDS, columns, run, scope, "本月没有隐患")
    h = f.hazards
    units = sorted(h.units, key=lambda n: (n == kpi.NO_UNIT, -h.units[n].overdue, n))
    for name in units:
        u = h.units[name]
        sheet.append([name, u.found, u.closed, u.due, u.overdue, percent(u.due - u.overdue, u.due)])
    sheet.finish()
    if not units:
        return None
    height = max(8.5, 0.55 * len(units))

    def make():
        chart = _chart(BarChart, "隐患：按责任单位（发现、关闭、超期）", y_title="项", type="bar", height=height)
        _add_series(chart, sheet.ws, columns=range(2, 4), rows=len(units))
        # 超期 is not beside 发现 and 关闭 in the table: added on its own, then every series gets the units.
        chart.add_data(Reference(sheet.ws, min_col=5, min_row=HEADER_ROW, max_row=HEADER_ROW + len(units)),
                       titles_from_data=True)
        chart.set_categories(Reference(sheet.ws, min_col=1, min_row=FIRST, max_row=HEADER_ROW + len(units)))
        return chart
    sheet.ws.add_chart(make(), "H3")
    return make


def _audits(book, scope: Scope, run: Run, f: Figures):
    columns = (Column("作业类型", 14), Column("抽查", 8), Column("合格", 8), Column("合格率 %", 10))
    sheet = _sheet(book, AUDITS, columns, run, scope, "本月没有完成的抽查")
    audits = f.hazards.audits
    names = sorted(audits, key=lambda n: (-audits[n].done, n))
    for name in names:
        a = audits[name]
        sheet.append([name, a.done, a.passed, percent(a.passed, a.done)])
    sheet.finish()
    if not names:
        return None

    def make():
        chart = _chart(BarChart, "随机抽查：按作业类型", y_title="张", type="col", overlap=-10)
        _add_series(chart, sheet.ws, columns=range(2, 4), rows=len(names))
        return chart
    sheet.ws.add_chart(make(), "F3")
    return make


def _score(ws, run: Run, scope: Scope, items, values, weight_rows):
    """Write the 综合评价 sheet with live formulas; return Q's cell and a maker of the UI chart."""
    columns = (Column("一级指标", 14), Column("编码", 14), Column("权重 K", 8), Column("得分 UI", 9),
               Column("二级指标", 16), Column("权重 ε", 8), Column("得分 LI", 9), Column("计分依据", 12),
               Column("计分方法", 60))
    sheet = Sheet.on(ws, columns, title=f"月度作业许可分析 · {SCORE}（{scope.period.label}）",
                     heading=run.heading(scope.period.label))
    groups = weights.uppers(items)
    layout, row = [], FIRST
    for group in groups:
        members = weights.lowers(items, group.code)
        layout.append((group, members, row))
        row += len(members)
    q_row = row
    for group, members, top in layout:
        bottom = top + len(members) - 1
        eps, li = f"F{top}:F{bottom}", f"G{top}:G{bottom}"
        known = f"SUMPRODUCT({eps},--ISNUMBER({li}))"
        ui = f'=IF({known}=0,"",SUMPRODUCT({eps},{li})/{known})'
        for offset, item in enumerate(members):
            value, basis = values[item.code]
            first = offset == 0
            sheet.append([group.name if first else None, group.code if first else None,
                          formula(ws, f"='{weights.SHEET}'!E{weight_rows[group.code]}") if first else None,
                          formula(ws, ui, number_format=SCORE_FORMAT) if first else None,
                          item.name, formula(ws, f"='{weights.SHEET}'!E{weight_rows[item.code]}"),
                          value, basis, item.method])
    tops = [top for _, _, top in layout]
    k = ",".join(f"C{t}" for t in tops)
    # The groups' rows are not adjacent, so Q sums them one by one rather than over a range.
    known = "+".join(f"C{t}*ISNUMBER(D{t})" for t in tops)
    weighted = "+".join(f"C{t}*N(D{t})" for t in tops)
    sheet.append(["综合评价得分 Q", None, formula(ws, f"=SUM({k})"),
                  formula(ws, f'=IF(({known})=0,"",({weighted})/({known}))', number_format=SCORE_FORMAT),
                  None, None, None, None, "Q = Σ Kᵢ·UIᵢ；无数据的指标不参与，其权重按比例分给同级"])
    sheet.finish()
    # The UI cells sit on non-adjacent rows; the chart plots a compact copy of them below the table.
    ws.append([])
    ws.append([styled(ws, "一级指标", font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGN),
               None, None, styled(ws, "得分 UI", font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGN)])
    for group, _, top in layout:
        ws.append([as_cell(ws, group.name), None, None,
                   formula(ws, f'=IF(D{top}="",0,D{top})', number_format=SCORE_FORMAT)])
    first, last = q_row + 3, q_row + 2 + len(layout)

    def make():
        chart = _chart(BarChart, "综合评价：一级指标得分 UI", y_title="分", type="col")
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 100
        chart.add_data(Reference(ws, min_col=4, min_row=first, max_row=last), titles_from_data=False)
        chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        chart.legend = None
        return chart
    ws.add_chart(make(), "K3")
    return f"'{SCORE}'!D{q_row}", make
