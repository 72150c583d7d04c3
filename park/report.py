"""The park's monthly ranking (园区月度排名): each enterprise scored as its own monthly report scores it.

The score is the monthly report's weighted Q, from the same figures and the deployment's weights, so
the enterprises are ranked on one scale and each one's row matches the Q of its own 月度作业许可分析.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exports import kpi, weights
from exports.build import Built
from exports.period import Period
from exports.report import indicator_values
from exports.run import Run
from exports.scope import Scope
from exports.sheet import Column, Sheet, new_book

from . import enterprises
from .enterprises import Site

KIND = "park"
RANKING = "园区企业排名"
HOME = "（本部署）"   # the 企业编码 cell of the deployment's own plant, which has no code
NO_SCORE = "无数据"


@dataclass(frozen=True)
class Score:
    """One enterprise's month: its weighted score Q, the 一级 scores UI and the 二级 indicators LI."""
    permits: int
    alarms: int
    groups: dict[str, float | None]
    indicators: dict[str, float | None]
    q: float | None


def score(period: Period, run: Run, items: tuple[weights.Item, ...]) -> Score:
    """Score the bound database's month exactly as its monthly report does."""
    figures = kpi.compute(Scope(period), run)
    values = {code: value for code, (value, _) in indicator_values(figures).items()}
    groups, q = weights.score(items, values)
    return Score(figures.permits, figures.alarm_total.raised, groups, values, q)


def ranked(sites: list[Site]) -> list[tuple[int | None, Site]]:
    """Order the sites by Q, best first, ranking equal scores (to one decimal, as shown) alike.

    An enterprise with no score (no permits in the month, or a database that did not answer) is
    listed last without a rank: it cannot be placed against the others.
    """
    def q(site: Site) -> float | None:
        return site.found.q if site.found is not None else None
    scored = sorted((s for s in sites if q(s) is not None), key=lambda s: (-round(q(s), 1), s.code or ""))
    out, previous, rank = [], None, 0
    for position, site in enumerate(scored, start=1):
        if round(q(site), 1) != previous:
            rank, previous = position, round(q(site), 1)
        out.append((rank, site))
    return out + [(None, s) for s in sites if q(s) is None]


def build(period: Period, out: Path, run: Run, items: tuple[weights.Item, ...] | None = None) -> Built:
    """Write 园区月度排名 for the month: every enterprise's rank, Q, 一级 scores and counts, and the weights."""
    items = items or weights.current()
    groups = weights.uppers(items)
    columns = (Column("排名", 6), Column("企业编码", 14), Column("企业名称", 24), Column("综合评价得分 Q", 14),
               *(Column(f"{g.name}（{g.weight:g}）", 14) for g in groups), Column("作业票（张）", 11),
               Column("报警（次）", 10), Column("说明", 30))
    sites = enterprises.across(lambda: score(period, run, items))
    book = new_book()
    sheet = Sheet(book, RANKING, columns, title=f"园区月度排名（{period.label}）", heading=run.heading(period.label),
                  freeze_columns=3)
    for rank, site in ranked(sites):
        found = site.found
        if found is None:
            sheet.append([None, site.code or HOME, site.name, None, *(None for _ in groups), None, None, site.error])
            continue
        sheet.append([rank, site.code or HOME, site.name, _one(found.q), *(_one(found.groups[g.code]) for g in groups),
                      found.permits, found.alarms, "" if found.q is not None else f"{NO_SCORE}：本月没有可计分的作业"])
    sheet.finish()
    sheet.note("得分与各企业的《月度作业许可分析》相同：Q = Σ Kᵢ·UIᵢ，按本部署的评价权重（见“权重配置”）计分。",
               "同分（保留一位小数）同名次；本月无数据或数据库无法读取的企业列在最后，不排名。")
    weights.write_sheet(book, run.heading(period.label), items)
    book.save(out)
    first = next((s for r, s in ranked(sites) if r == 1), None)
    summary = (f"企业 {len(sites)} 家，第一名 {first.name}（{first.found.q:.1f} 分）" if first
               else f"企业 {len(sites)} 家，本月均无数据")
    return Built(out, KIND, period.label, {RANKING: sheet.rows}, summary)


def file_name(period: Period) -> str:
    return f"园区月度排名_{period.label}.xlsx"


def _one(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
