"""Build the sample plant's detector workbook: python -m exports.samples.build_sample_sensors [OUT]."""
from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

from workflow.gas import GAS_LABELS, GASES

from ..sensor_import import ENABLED, INTERVAL_RANGE, KIND, KINDS, NO, SENSOR_COLUMNS, SENSORS, YES
from .layout import fill, pick_list

OUT = Path(__file__).with_name("示例检测仪.xlsx")

HEADERS = SENSOR_COLUMNS
FOUR_GAS = "O2、EX、H2S、CO"
# Areas are parts of the sample permits' locations (workflow/walkthrough.py, the demo's hot work at
# 3#罐区东侧管廊), so the fixed detectors cover those permits. Sensor tests use GD-0012.
ROWS = (
    ("GD-0001", "3#罐区固定式可燃/有毒气体探测器", "3#罐区", "固定", "EX、H2S", 30, "U2", "是"),
    ("GD-0002", "常减压装置固定式可燃/有毒气体探测器", "常减压装置", "固定", "EX、H2S、CO", 30, "U1", "是"),
    ("GD-0003", "V-101 固定式氧含量探测器", "常减压装置 V-101", "固定", "O2", 30, "U1", "是"),
    ("GD-0011", "储运车间便携式四合一检测仪", "3#罐区", "便携", FOUR_GAS, 10, "U2", "是"),
    ("GD-0012", "常减压车间便携式四合一检测仪", "常减压装置", "便携", FOUR_GAS, 10, "U1", "是"),
    ("GD-0013", "常减压车间便携式四合一检测仪（备用）", "常减压装置", "便携", FOUR_GAS, 10, "U1", "否"),
)


def build(out: Path = OUT) -> Path:
    """Write the sample plant's detector workbook to out and return its path."""
    book = Workbook()
    sensors = book.active
    sensors.title = SENSORS
    fill(sensors, HEADERS, ROWS)
    pick_list(sensors, column=HEADERS.index(KIND) + 1, choices=KINDS)
    pick_list(sensors, column=HEADERS.index(ENABLED) + 1, choices=(YES, NO))
    notes = book.create_sheet("说明")
    fill(notes, ("项目", "说明"), [(gas, f"测量气体：{GAS_LABELS[gas]}（多个用 、 分隔）") for gas in GASES] + [
        ("类型", "、".join(KINDS)),
        ("上报间隔秒", f"{INTERVAL_RANGE.start} 到 {INTERVAL_RANGE.stop - 1} 的整数"),
        ("所属单位", "部门编码或部门名称，其安全员接收报警；可空"),
        ("启用", f"{YES} 或 {NO}，空为{YES}"),
    ])
    book.save(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
