"""Build the sample plant's inspection-plan workbook: python -m exports.samples.build_sample_inspections [OUT]."""
from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

from models.inspection import SCHEDULES

from ..inspection_import import COLUMNS, MAX_ITEMS, PLANS, SCHEDULE
from .layout import fill, pick_list

OUT = Path(__file__).with_name("示例巡检计划.xlsx")

# One row per item; a plan's later rows repeat its name and leave its other columns empty. 3#罐区 is
# where the sample permits and the inspection story work; 何亮 (储运车间) walks it each shift, 孙立
# checks hot work each day.
TANK_FARM = ("消防通道畅通，无杂物堵塞", "灭火器在位且在有效期内", "可燃气体探测器运行正常，无报警",
             "罐区防火堤完好，排水阀关闭", "作业点警戒线和警示牌齐全")
HOT_WORK = ("动火点周围 15 米内可燃物已清理", "监护人在岗，持证作业", "气体检测在有效期内",
            "灭火器材已配备到位")
ROWS = ([("3#罐区每班巡检", "3#罐区", "", "每班", "heliang", TANK_FARM[0])]
        + [("", "", "", "", "", item) for item in TANK_FARM[1:]]
        + [("动火作业每日检查", "", "动火作业", "每日", "sunli", HOT_WORK[0])]
        + [("", "", "", "", "", item) for item in HOT_WORK[1:]])


def build(out: Path = OUT) -> Path:
    """Write the sample plant's inspection-plan workbook to out and return its path."""
    book = Workbook()
    plans = book.active
    plans.title = PLANS
    rows, name = [], ""
    for row in ROWS:
        name = row[0] or name
        rows.append((name,) + row[1:])
    fill(plans, COLUMNS, rows)
    pick_list(plans, column=COLUMNS.index(SCHEDULE) + 1, choices=SCHEDULES)
    notes = book.create_sheet("说明")
    fill(notes, ("项目", "说明"), [
        ("计划名称", "每行一个检查项目；同一计划的各行写同一个计划名称"),
        ("区域 / 作业类型", "二选一：按区域巡检（区域表中的名称），或按作业类型巡检（如 动火作业）；同一计划的后续行可留空"),
        ("周期", "每班：00:00、08:00、16:00 各推送一次，本班结束前完成；每日：08:00 推送，17:00 前完成；"
                 "每周：周一 08:00 推送，周五 17:00 前完成"),
        ("巡检人", "姓名、账号或手机号"),
        ("检查项目", f"每个计划最多 {MAX_ITEMS} 项；巡检时勾选不符合的项目，每项登记为一条隐患"),
        ("签到", "巡检人须先扫描该区域内（或该类型）作业票的现场二维码签到，才能提交"),
    ])
    book.save(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
