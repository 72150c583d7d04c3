"""python app.py export … / template / load-weights, as an admin runs them."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import settings
from app import cli
from models import AuditEvent
from tests.exports.conftest import month  # noqa: F401  (a fixture: November's permits)
from tests.conftest import SAMPLE_ORG


@pytest.fixture
def run(month, db, tmp_path, monkeypatch):
    """Return a function that runs one CLI command against the test database holding November's permits."""
    if db.__class__.__name__.startswith("Sqlite"):   # a server database is named by DATABASE_URL already
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'permit.db'}")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    yield invoke
    settings.configure()


def test_each_export_writes_its_workbook(run, tmp_path):
    out = run("export", "ledger", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(tmp_path / "l.xlsx"))
    assert out.startswith(f"已写出 {tmp_path / 'l.xlsx'}") and "作业票 4 张" in out
    assert load_workbook(tmp_path / "l.xlsx")["作业票台账"].max_row == 3 + 4
    out = run("export", "ledger", "--month", "2026-11", "--type", "动火作业", "-o", str(tmp_path / "h.xlsx"))
    assert "作业票 1 张" in out
    assert "综合评价得分 Q = 96.5 分" in run("export", "report", "--month", "2026-11", "-o", str(tmp_path / "r.xlsx"))
    assert load_workbook(tmp_path / "r.xlsx")["概览"]._charts
    assert "校验通过" in run("export", "audit", "--month", "2026-11", "-o", str(tmp_path / "a.xlsx"))
    assert "持证记录 7 条" in run("export", "certificates", "--month", "2026-11", "-o", str(tmp_path / "c.xlsx"))


@pytest.mark.parametrize("args, message", [
    (("export", "ledger", "--from", "2026-12-01", "--to", "2026-11-01"), "开始日期 2026-12-01 晚于结束日期 2026-11-01"),
    (("export", "report", "--month", "2026-13"), "月份“2026-13”不对"),
    (("export", "report",), "请给出 --month 2026-11"),
    (("export", "ledger", "--month", "2026-11", "--state", "完成了"), "没有“完成了”这种状态"),
])
def test_a_bad_period_or_filter_gets_the_usage(run, args, message):
    out = run(*args, code=2)
    assert message in out and "Usage:" in out


def test_a_tampered_audit_export_exits_1(run, month, tmp_path):
    AuditEvent.update(actor="冒名顶替").where(AuditEvent.seq == 3).execute()
    out = run("export", "audit", "--permit", month[0].no, "-o", str(tmp_path / "a.xlsx"), code=1)
    assert "校验未通过" in out


def test_loaded_weights_score_every_later_report(run, tmp_path):
    assert "评价权重.xlsx" in run("template", "weights", "-o", str(tmp_path / "t"))
    book = load_workbook(tmp_path / "t" / "评价权重.xlsx")
    sheet = book["权重配置"]
    rows = {sheet.cell(r, 2).value: r for r in range(4, 16)}
    sheet.cell(rows["process"], 5).value, sheet.cell(rows["alarm"], 5).value = 0.6, 0.0
    book.save(tmp_path / "mine.xlsx")
    assert "流程合规 0.6" in run("load-weights", str(tmp_path / "mine.xlsx"))
    assert "Q = 94.0 分" in run("export", "report", "--month", "2026-11", "-o", str(tmp_path / "r.xlsx"))
    sheet.cell(rows["closure"], 5).value = 0.5
    book.save(tmp_path / "bad.xlsx")
    assert "一级指标的权重之和为 1.35，应为 1" in run("load-weights", str(tmp_path / "bad.xlsx"), code=1)


def test_templates_need_no_database(instance, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = CliRunner().invoke(cli, ["template", "-o", str(tmp_path / "blank")])
    settings.configure()
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "blank").iterdir()) == sorted(
        ["组织架构表（模板）.xlsx", "证书表（模板）.xlsx", "检测仪表（模板）.xlsx", "评价权重.xlsx"])


def test_progress_goes_to_stderr_with_the_flag_and_stdout_stays_one_result(run, tmp_path):
    runner = CliRunner()
    quiet = runner.invoke(cli, ["export", "ledger", "--month", "2026-11", "-o", str(tmp_path / "q.xlsx")])
    assert quiet.exit_code == 0 and quiet.stderr == ""     # not a terminal, no flag: nothing but the result
    shown = runner.invoke(cli, ["--progress", "export", "ledger", "--month", "2026-11", "-o", str(tmp_path / "p.xlsx")])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("\n") == 1 and shown.stdout.startswith("已写出")
    assert shown.stderr.startswith("  导出进度 ") and shown.stderr.rstrip().endswith("%")
    backup = runner.invoke(cli, ["--progress", "backup", "--out", str(tmp_path / "b.tar.gz")])
    assert backup.exit_code == 0, backup.output
    assert backup.stdout.startswith("已备份") and "已备份 permit：" in backup.stderr
    org = runner.invoke(cli, ["--progress", "load-org", str(SAMPLE_ORG)])
    assert org.exit_code == 0, org.output
    assert "正在读取并检查" in org.stderr and "正在读取" not in org.stdout
