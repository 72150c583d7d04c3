"""The tool commands as an operator runs them: load the register, refuse a bad workbook, print the labels."""
from __future__ import annotations

import base64
import re

from openpyxl import Workbook

from exports.samples.build_sample_tools import OUT as SAMPLE_TOOLS, ROWS
from tests.conftest import SAMPLE_ORG
from tests.test_cli import run  # noqa: F401

IMAGE = re.compile(r'<img src="data:image/png;base64,([^"]+)" alt="([^" ]+) 二维码">')


def test_the_register_loads_and_each_label_holds_its_tools_signed_link(run, tmp_path):
    from handlers.web.board import qr_png
    from models.tool import Tool
    from tools import labels
    run("init-db")
    assert "请先运行 load-tools" in run("tool-labels", "--out", str(tmp_path / "none.html"), ok=False)
    run("load-org", str(SAMPLE_ORG))
    assert "工器具：新增 6，更新 0" in run("load-tools", str(SAMPLE_TOOLS))
    out = tmp_path / "labels.html"
    assert f"已生成 {len(ROWS)} 张工器具标签" in run("tool-labels", "--out", str(out))
    found = {no: base64.b64decode(data) for data, no in IMAGE.findall(out.read_text(encoding="utf-8"))}
    assert set(found) == {row[0] for row in ROWS}
    for no, png in found.items():
        assert png == qr_png(labels.url(Tool.get(Tool.no == no)))
    harnesses = tmp_path / "harnesses.html"
    assert "已生成 2 张" in run("tool-labels", "--kind", "安全带", "--out", str(harnesses))


def test_a_bad_tool_workbook_is_reported_by_cell_and_nothing_is_loaded(run, tmp_path):
    from models.tool import Tool
    run("init-db")
    run("load-org", str(SAMPLE_ORG))
    book = Workbook()
    book.active.title = "工器具"
    book.active.append(["编号", "类别", "检验周期(月)", "上次检验日期", "保管人"])
    book.active.append(["GJ-0100", "便携式气体检测仪", 12, "2026-06-01", "nobody"])
    book.active.append(["GJ-0101", "安全带", "十二", "2026-06-01", "sunli"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    out = run("load-tools", str(path), ok=False)
    assert "工器具 第2行 保管人: “nobody”不在组织架构中" in out
    assert "工器具 第3行 检验周期(月): “十二”不是 1 到 120 之间的整数" in out
    assert Tool.select().count() == 0
