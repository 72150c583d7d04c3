"""The command line, driven as an operator would: a work-at-height permit from draft to close."""
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

import settings
from app import cli
from tests.conftest import SAMPLE_ORG


@pytest.fixture
def run(db, instance, tmp_path, monkeypatch):
    """Return a function that runs one CLI command against the test database."""
    if db.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'permit.db'}")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert (result.exit_code == 0) == ok, result.output
        assert "Traceback" not in result.output
        return result.output

    yield invoke
    settings.configure()


def _local(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def test_a_permit_goes_from_draft_to_close_on_the_command_line(run, tmp_path):
    assert "created schema" in run("init-db") or "up to date" in run("init-db")
    assert "人员：新增 23" in run("load-org", str(SAMPLE_ORG))
    now = datetime.now(settings.current().plant_tz).replace(tzinfo=None)
    out = run("permit", "new", "高处作业", "--as", "zhuyan", "--location", "塔T-101 平台",
              "--content", "仪表更换", "--start", _local(now - timedelta(minutes=10)),
              "--end", _local(now + timedelta(hours=4)), "--crew", "jianghan,shenli",
              "--guardian", "chuwei", "--set", "级别=3")
    no = re.search(r"GC-\d{8}-\d{4}", out).group(0)
    assert "Ⅰ" in run("permit", "submit", no, "--as", "zhuyan")
    run("permit", "sign", no, "plan", "--as", "zhengji")
    assert "未勾选" in run("permit", "sign", no, "assess", "--as", "wangping", ok=False)
    run("permit", "sign", no, "assess", "--as", "wangping", "--tick", "all")
    run("permit", "sign", no, "briefing", "--as", "fengjiao")
    for account in ("jianghan", "shenli", "chuwei"):
        run("permit", "sign", no, "briefing_ack", "--as", account)
    assert "不是“基层单位审批”的签字人" in run("permit", "sign", no, "approve_unit", "--as", "lizheng", ok=False)
    assert "请先到现场扫码签到" in run("permit", "sign", no, "approve_unit", "--as", "wuhai", ok=False)
    run("permit", "checkin", no, "--as", "wuhai")
    assert "未开工" in run("permit", "sign", no, "approve_unit", "--as", "wuhai")
    assert "缺少现场照片：安全带" in run("permit", "start", no, "--as", "chuwei", ok=False)
    photo = tmp_path / "harness.jpg"
    photo.write_bytes(b"\xff\xd8 harness photo")
    run("permit", "attach", no, str(photo), "--kind", "安全带", "--as", "zhuyan")
    assert "开工前须现场扫码签到：监护人 褚卫、作业负责人 蒋焊" in run("permit", "start", no, "--as", "chuwei", ok=False)
    run("permit", "checkin", no, "--as", "chuwei")
    assert "作业负责人" in run("permit", "checkin", no, "--as", "jianghan")
    assert "作业中" in run("permit", "start", no, "--as", "chuwei")
    links = run("permit", "board", no, "--qr", str(tmp_path / "qr.png"))
    assert f"/board/{no}?t=" in links and f"/board/{no}?s=" in links and f"/board/{no}/print?p=" in links
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
    run("permit", "complete", no, "--as", "chuwei")
    run("permit", "accept", no, "--as", "yangshou")
    assert "已关闭" in run("permit", "close", no, "--as", "wuhai")
    shown = run("permit", "show", no)
    assert "【已关闭】" in shown and "吴海同意" in shown
    assert run("verify-audit").startswith("OK")


def test_bad_org_workbook_is_reported_by_row_and_nothing_is_loaded(run, tmp_path):
    run("init-db")
    book = Workbook()
    book.active.title = "部门"
    book["部门"].append(["部门编码", "部门名称", "上级部门编码", "类型"])
    book["部门"].append(["U9", "九车间", "NOPE", "基层单位"])
    people = book.create_sheet("人员")
    people.append(["姓名", "企业微信账号", "钉钉账号", "手机", "部门编码", "角色"])
    people.append(["张三", "zhangsan", "", "", "U9", "焊工"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    out = run("load-org", str(path), ok=False)
    assert "部门 第2行 上级部门编码" in out and "人员 第2行 角色" in out
    assert "没有待办" not in out
    from models import Person
    assert Person.select().count() == 0


def test_unknown_person_and_unknown_permit_get_a_plain_message(run):
    run("init-db")
    assert "找不到人员 nobody" in run("permit", "todo", "--as", "nobody", ok=False)
    assert "没有编号为 DH-1 的作业票" in run("permit", "show", "DH-1", ok=False)


def test_verify_audit_names_a_tampered_event_and_exits_1(run):
    from tests.conftest import MORNING
    from workflow.walkthrough import run_to_close
    run("init-db")
    run("load-org", str(SAMPLE_ORG))
    permit = run_to_close("confined_space", start=MORNING)
    assert run("verify-audit").startswith("OK")
    from models import AuditEvent, database
    victim = AuditEvent.select().where(AuditEvent.permit_no == permit.no).order_by(AuditEvent.seq)[3]
    database.execute_sql(f"UPDATE audit_event SET actor = 'someone else' WHERE id = {victim.id}")
    out = run("verify-audit", ok=False)
    assert f"id {victim.id}" in out and permit.no in out


def test_commands_on_an_uninitialised_database_say_to_run_init_db(run, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "请先运行 python app.py init-db" in run("verify-audit", ok=False)


def test_detectors_are_registered_and_their_secrets_shown_once(run, tmp_path):
    from exports.samples.build_sample_sensors import OUT as SAMPLE_SENSORS
    from models import Sensor
    run("init-db")
    run("load-org", str(SAMPLE_ORG))
    out = run("load-sensors", str(SAMPLE_SENSORS))
    shown = re.search(r"^GD-0012  secret=([0-9a-f]{32})$", out, re.M).group(1)
    assert shown == Sensor.get(code="GD-0012").secret
    assert "检测仪：新增 6，更新 0" in out and "仅此一次显示" in out
    assert "secret=" not in run("load-sensors", str(SAMPLE_SENSORS))
    out = run("sensor-rekey", "GD-0012")
    rekeyed = re.search(r"^GD-0012  secret=([0-9a-f]{32})$", out, re.M).group(1)
    assert rekeyed != shown and rekeyed == Sensor.get(code="GD-0012").secret
    assert "没有编号为 GD-9999 的检测仪" in run("sensor-rekey", "GD-9999", ok=False)


def test_bad_detector_workbook_is_reported_by_row_and_nothing_is_loaded(run, tmp_path):
    run("init-db")
    book = Workbook()
    book.active.title = "检测仪"
    book.active.append(["编号", "名称", "区域/位置", "类型", "测量气体", "上报间隔秒"])
    book.active.append(["GD-0100", "新探测器", "3#罐区", "固定", "HCHO", 60])
    book.active.append(["GD-0101", "新探测器", "3#罐区", "手持", "EX", 60])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    out = run("load-sensors", str(path), ok=False)
    assert "检测仪 第2行 测量气体: 未知气体“HCHO”" in out and "检测仪 第3行 类型" in out
    from models import Sensor
    assert Sensor.select().count() == 0


def test_inspection_plans_load_from_the_sample_and_a_bad_row_is_named(run, tmp_path):
    from exports.samples.build_sample_inspections import OUT as SAMPLE_PLANS
    from models import InspectionPlan
    run("init-db")
    run("load-org", str(SAMPLE_ORG))
    assert "巡检计划：新增 2，更新 0，停用 0" in run("load-inspections", str(SAMPLE_PLANS))
    book = Workbook()
    book.active.title = "巡检计划"
    book.active.append(["计划名称", "区域", "作业类型", "周期", "巡检人", "检查项目"])
    book.active.append(["新计划", "3#罐区", "", "每月", "heliang", "消防通道畅通"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    assert "巡检计划 第2行 周期: 未知周期“每月”" in run("load-inspections", str(path), ok=False)
    assert InspectionPlan.select().count() == 2


def test_states_prints_the_transition_table_as_the_readme_diagram(run):
    from workflow.states import LABELS, TRANSITIONS
    diagram = run("states", "--mermaid")
    assert diagram.startswith("stateDiagram-v2")
    for state, label in LABELS.items():
        assert f'state "{label}" as {state}' in diagram
    moves = {(row.source, row.dest) for row in TRANSITIONS if row.dest}
    for source, dest in moves:
        assert f"{source} --> {dest} :" in diagram
    listing = run("states")
    assert "草稿 --提交--> 审批中" in listing and "（不变）" not in listing
    assert "（不变）" in run("states", "--internal")


def _command_paths(group, prefix=()):
    import click
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))


def test_every_commands_help_works_before_the_database_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()
    paths = list(_command_paths(cli))
    assert ("permit", "new") in paths and ("demo",) in paths
    try:
        for path in [(), *paths]:
            result = runner.invoke(cli, [*path, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output, (path, result.output)
        # The first command that needs the database says how to create it.
        refused = runner.invoke(cli, ["permit", "todo", "--as", "zhuyan"])
        assert refused.exit_code == 1 and "请先运行 python app.py init-db" in refused.output
    finally:
        settings.configure()


def test_demo_reset_clears_only_the_instances_own_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    (tmp_path / "elsewhere.db").write_bytes(b"someone's data")
    try:
        refused = CliRunner().invoke(cli, ["demo", "--reset"])
    finally:
        settings.configure()
    assert refused.exit_code == 1 and "--reset 只清除实例目录" in refused.output
    assert (tmp_path / "elsewhere.db").read_bytes() == b"someone's data"


def test_courses_load_from_the_sample_by_default_and_a_bad_workbook_is_refused_by_row(run, tmp_path):
    run("init-db")
    assert "培训课程：新增 3 门，更新 0 门" in run("load-training")
    assert "培训课程：新增 0 门，更新 3 门" in run("load-training")
    book = Workbook()
    book.active.title = "课程"
    book.active.append(["课程编号", "课程名称", "课程内容", "及格分", "允许考试次数"])
    book.active.append(["PX-9", "测试", "内容", "八十", 2])
    questions = book.create_sheet("题库")
    questions.append(["课程编号", "序号", "题型", "题目", "选项A", "选项B", "答案"])
    questions.append(["PX-9", 1, "单选", "题目", "甲", "乙", "A"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    out = run("load-training", str(path), ok=False)
    assert "课程 第2行 及格分: 应为 1 到 100 的整数，现为“八十”" in out
    from models import Course
    assert Course.select().count() == 3
