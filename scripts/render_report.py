"""Render the first page of a sample 月度作业许可分析 to PNG for the README: python scripts/render_report.py [OUT.png]

A month of sample permits is made by the engine in a temporary instance (every work type on working
mornings of November 2026, some refused, gas alarms acknowledged after various delays and one never),
the report is exported as `python app.py export report` does, then LibreOffice (headless) prints it
to PDF, computing the formulas and drawing the native charts, and pdftoppm turns page 1 into a PNG.
Needs `soffice` and `pdftoppm` (Debian: libreoffice-calc, poppler-utils, and a CJK font such as
fonts-wqy-microhei).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "report-overview.png"
TYPES = ("hot_work", "confined_space", "height", "lifting", "temp_power", "blind_plate", "excavation",
         "road_closure")


def _month() -> None:
    from models import find_person, transaction
    from sensors import alarms
    from workflow import engine
    from workflow.walkthrough import draft, run_to_close
    day, n = datetime(2026, 11, 2, 0, 0), 0      # 08:00 plant time, Monday 2 November
    while day.month == 11:
        if day.weekday() < 5:
            for k in range(2 + day.day % 3):
                code = TYPES[(n + k) % len(TYPES)]
                permit = run_to_close(code, start=day + timedelta(hours=k))
                if (n + k) % 3 == 0:
                    at = day + timedelta(hours=k + 1)
                    with transaction():
                        alarm = alarms.raise_alarm(sensor=None, device=None, level="一级" if k % 2 else "二级",
                                                   text="人工检测：可燃气体超过报警值", permits=[permit], reading_at=at,
                                                   now=at, gas="EX", value=28.0)
                    if (n + k) % 4:
                        alarms.acknowledge(alarm.id, by=permit.applicant, channel="wecom",
                                           now=at + timedelta(seconds=25 + 30 * ((n + k) % 6)))
            refused = draft("hot_work", start=day + timedelta(hours=6))
            engine.submit(refused.no, by=refused.applicant, now=day)
            engine.sign(refused.no, "plan", by=find_person("zhengji"), now=day + timedelta(minutes=5))
            verb = engine.reject if day.day % 2 else engine.return_for_revision
            verb(refused.no, "assess", by=find_person("wangping"), reason="JSA 未辨识临近管线",
                 now=day + timedelta(minutes=10))
            n += 1
        day += timedelta(days=1)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    for tool in ("soffice", "pdftoppm"):
        if shutil.which(tool) is None:
            sys.exit(f"scripts/render_report.py needs {tool}")
    folder = Path(tempfile.mkdtemp(prefix="render-report-"))
    os.environ.update({"INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
                       "PLANT_NAME": "示例化工厂"})
    try:
        import logging
        import settings
        import models
        from exports.build import build_report
        from exports.org_import import load_org
        from exports.period import month
        from exports.run import Run
        from models.schema import upgrade
        logging.disable(logging.INFO)
        from app import wire_gates
        settings.configure()
        wire_gates()   # the engine runs here without an app; its gates still need their checks
        models.connect(settings.current().database_url)
        upgrade()
        load_org(ROOT / "exports" / "samples" / "示例工厂组织架构.xlsx")
        _month()
        built = build_report(month("2026-11"), folder / "月度作业许可分析_2026-11.xlsx",
                             Run.current(now=datetime(2026, 12, 1, 0, 5)))
        print(built.summary)
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(built.path)],
                       check=True, capture_output=True, timeout=300)
        pdf = built.path.with_suffix(".pdf")
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(out.with_suffix(""))], check=True, timeout=120)
        print(f"已写出 {out}")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
