"""`python app.py demo --scripted`: the whole product on embedded defaults, driven over HTTP."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# The scripted demos run on their own default, SQLite in a temporary instance, and each takes minutes:
# on the server engines the same paths are covered by the real-path tests, so the suite there stays
# within CI's hour.
pytestmark = pytest.mark.skipif(os.environ.get("DATABASE_URL", "").split(":")[0] not in ("", "sqlite"),
                                reason="scripted demos run on SQLite, their own default (see the module comment)")

ROOT = Path(__file__).resolve().parents[1]


def run_demo(db, tmp_path, *options: str, env_extra: dict | None = None,
             truncate: bool = True, limit: float = 240) -> subprocess.CompletedProcess:
    # AUDIT_CHECKPOINTS is the test's own file: a demo keeps its checkpoints in its instance beside its
    # audit key, or the daily checkpoint (written from 23:00 at the plant) of one demo would judge the next.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "DINGTALK_", "DEFAULT_PLATFORM", "REDIS_URL", "AUDIT_CHECKPOINTS"))}
    env |= env_extra or {}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    if db.__class__.__name__.startswith("Sqlite"):
        env.pop("DATABASE_URL", None)   # the demo's own default: a SQLite file in the instance
    elif truncate:
        from tests.conftest import _truncate
        _truncate(db)   # a server database is shared: each demo starts on empty tables, as on SQLite
    # With the fault handler on, SIGABRT makes a demo that outstays its limit print every thread's
    # stack: a hang then says where it hung instead of only that it did.
    env["PYTHONFAULTHANDLER"] = "1"
    command = [sys.executable, "app.py", "demo", "--scripted", *options]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate()
        pytest.fail(f"{' '.join(options)}: still running after {limit:.0f} s\n{out[-2000:]}\n{err[-8000:]}")
    done = subprocess.CompletedProcess(command, process.returncode, out, err)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_the_scripted_demo_takes_a_hot_work_permit_to_close(db, tmp_path):
    done = run_demo(db, tmp_path)
    assert "已关闭" in done.stdout and "chain intact" in done.stdout
    assert "点击“同意”" in done.stdout and "逐项勾选" in done.stdout
    # A real scheduler process escalated the overdue unit approval to the specialist department.
    assert "超时，已上报 李正，其手机收到审批卡片：是" in done.stdout
    # Every approver scanned the site code right before clicking 同意, and so did the start's people.
    lines = [line.split() for line in done.stdout.splitlines()]
    approvals = [i for i, words in enumerate(lines) if "点击“同意”" in words and words[0].endswith("审批")]
    # 一级 hot work is raised to 特级 at night, which adds the plant leader's approval to the unit's and
    # the safety department's: the demo runs at whatever hour the suite does.
    grade = re.search(r"已提交，级别 (特级|一级)", done.stdout)[1]
    assert len(approvals) == {"特级": 3, "一级": 2}[grade]
    for i in approvals:
        assert lines[i - 1] == ["现场签到", lines[i][1], "扫描现场二维码签到"], lines[i - 1]
    assert "现场签到         监护人 褚卫、作业负责人 蒋焊 扫描现场二维码签到" in done.stdout
    # The board's signed link opened from outside the app, at the start and at the end.
    boards = re.findall(r"现场公示牌 +http://127\.0\.0\.1:\d+/board/\S+\?t=\S+ → HTTP 200，显示“(\w+)”", done.stdout)
    assert boards == ["审批中", "已关闭"]


def test_the_scripted_demo_runs_on_dingtalk_and_on_both_apps_at_once(db, tmp_path):
    done = run_demo(db, tmp_path, "--platform", "dingtalk")
    assert done.stdout.startswith("朱岩 在钉钉发送动火作业申请")
    assert "已关闭" in done.stdout and "chain intact" in done.stdout
    clicks = re.findall(r"点击“[^”]+” → (ACK|HTTP) (\d+)", done.stdout)
    assert clicks and set(clicks) == {("ACK", "200")}      # every click came over the Stream connection
    assert "未能提交" in done.stdout                        # the refusal reached the applicant in DingTalk
    mixed = run_demo(db, tmp_path / "mixed", "--platform", "mixed")
    ways = {way for way, _ in re.findall(r"点击“[^”]+” → (ACK|HTTP) (\d+)", mixed.stdout)}
    assert ways == {"ACK", "HTTP"} and "chain intact" in mixed.stdout


def test_the_scripted_demo_runs_over_the_wecom_long_connection(db, tmp_path):
    # A bound, not a timing: each frame crosses one more process (wecom-ws) and its SQLite writer turn.
    done = run_demo(db, tmp_path, env_extra={"WECOM_MODE": "ws"}, limit=480)
    assert done.stdout.startswith("朱岩 在企业微信发送动火作业申请")
    assert "已关闭" in done.stdout and "chain intact" in done.stdout
    # Every click went as a frame on the socket that a `python app.py wecom-ws` process held.
    ways = set(re.findall(r"点击“[^”]+” → (WS frame|ACK \d+|HTTP \d+)", done.stdout))
    assert ways == {"WS frame"}
    assert "未能提交" in done.stdout


def test_the_gas_story_runs_a_controller_of_100_detectors_on_both_apps(db, tmp_path):
    for platform in ("wecom", "dingtalk"):
        done = run_demo(db, tmp_path / platform, "--story", "gas", "--platform", platform)
        assert "连续 5 次 → 入库 500 条，无报警" in done.stdout
        assert re.search(r"GD-1042 上报 H2S=25 mg/m³ → 二级报警，卡片发给 \S+", done.stdout)
        assert "点击“确认收到”" in done.stdout
        assert "→ 403 foreign_device；签名不符 → 401；均未入库" in done.stdout
        assert "报警已解除" in done.stdout and "chain intact" in done.stdout
        # 99 detectors' readings of five-odd seconds fall into one minute, or two when a minute turns.
        folded = re.search(r"读数原样保留 7 条，其余 693 条折叠为 (\d+) 条每分钟汇总", done.stdout)
        assert folded and int(folded[1]) in (99, 198)


def test_the_plant_story_runs_a_day_of_overlapping_permits_on_both_apps(db, tmp_path):
    for platform in ("wecom", "dingtalk"):
        done = run_demo(db, tmp_path / platform, "--story", "plant", "--platform", platform)
        out = done.stdout
        assert "插入“交叉作业协调”，协调人 秦川" in out and "与 DH-" in out and "共用一把锁" in out
        assert "褚卫 发送“照片 V-101”和锁具挂牌照片" in out
        assert "盲板抽堵（3#罐区 进料线）→ 拒绝" in out and "不在本厂区域表中" in out
        assert "褚卫 交接给 何亮：双方确认、何亮 现场签到 → 监护人变更；褚卫 离场，作业继续" in out
        assert re.search(r"【演练】3#罐区：DH-\S+、DH-\S+ 已暂停，\d+ 人收到卡片；.*清点 4 / 4", out)
        assert re.search(r"3#罐区 入口平板：【演练】，DH-\S+、DH-\S+ 均显示“已暂停”", out)
        assert "公示牌显示：监护人 褚卫 → 何亮 · 已交接" in out and "“人员清点”卡片随每次点击更新：已撤离 4 / 4" in out
        assert "两张票均恢复作业" in out and "尚未关闭" in out and "V-101 已解除" in out
        assert "隔离台账 1 条，交接班记录 1 条，应急记录 1 条" in out and "chain intact" in out


def test_five_scripted_demos_in_a_row_alternating_apps_all_pass_in_one_instance(db, tmp_path):
    """The shortest story, five times in the same instance: nobody's app of choice leaks into the next run."""
    kept, numbers = tmp_path / "kept", set()
    for i, platform in enumerate(("wecom", "dingtalk", "wecom", "dingtalk", "wecom")):
        done = run_demo(db, tmp_path, "--story", "names", "--platform", platform, "--instance", str(kept),
                        truncate=i == 0)
        app = {"wecom": "企业微信", "dingtalk": "钉钉"}[platform]
        assert f"郑计 在{app}收到卡片" in done.stdout and "chain intact" in done.stdout, (i, done.stdout)
        numbers |= set(re.findall(r"(DH-\d{8}-\d{4}) 已提交", done.stdout))
    assert len(numbers) == 5   # the instance kept each run's permit: the next run numbered on from it


def test_the_inspection_story_closes_a_hazard_audits_a_permit_and_takes_an_anonymous_report_on_both_apps(db, tmp_path):
    for platform in ("wecom", "dingtalk"):
        done = run_demo(db, tmp_path / platform, "--story", "inspection", "--platform", platform)
        out = done.stdout
        assert re.search(r"褚卫 发送“隐患 3#罐区 东侧消防通道被杂物堵塞”和现场照片 → YH-\d{8}-0001，安全员 孙立 收到", out)
        assert "蒋焊 未附照片报完成 → 拒绝" in out and "褚卫 复查不通过 → 退回" in out
        assert re.search(r"再次整改后 褚卫 复查通过 → YH-\S+ 已关闭", out)
        assert re.search(r"查询码 JB-\S+；数据库中没有举报人、没有发给他的记录", out)
        assert "卫东 查询 → 已立为隐患" in out and "编造的查询码 → 查不到举报编号" in out
        assert re.search(r"当日抽取（种子 [0-9a-f]{16}，比例 100%）→ 抽中，孙立 收到 10 项检查清单", out)
        assert re.search(r"孙立 未扫码记录 → 拒绝；扫码签到后记录“第 10 项不合格：灭火器不足” → 隐患 YH-\S+", out)
        assert re.search(r"何亮 收到“3#罐区每班巡检”卡片（5 项），扫码签到后勾选 1 项不符合 → 隐患 YH-\S+", out)
        # 巡检记录: the shift round, and hot work's day round when the story runs between 08:00 and 17:00.
        assert re.search(r"隐患排查治理台账 4 条，抽查记录 1 条，巡检记录 [12] 条", out) and "chain intact" in out


def test_the_readiness_story_passes_a_quiz_refuses_an_expired_detector_and_holds_a_start_for_the_meeting(db, tmp_path):
    for platform in ("wecom", "dingtalk"):
        done = run_demo(db, tmp_path / platform, "--story", "readiness", "--platform", platform)
        out = done.stdout
        assert "褚卫 发送“培训 动火监护人上岗培训”，逐题作答 5 题 → 得分 100，合格，取得动火监护人上岗授权" in out
        assert "陈检 未领检测仪就发送检测数据 → 拒绝：须先扫码领用便携式气体检测仪" in out
        assert re.search(r"陈检 扫码领用 GJ-0003 → HTTP 409：检验有效期至 \S+，已过期，不得领用", out)
        assert "陈检 扫码领用 GJ-0001 → 领用成功" in out
        assert "褚卫 点击“确认” → 拒绝：开工前须召开当天班前会" in out
        assert out.count("扫描班前会二维码签到，点击“确认参会”") == 3
        assert "何亮（不在班组）扫描班前会二维码 → HTTP 403" in out
        assert re.search(r"班组全员确认参会后，DH-\d{8}-\d{4} → 作业中", out) and "chain intact" in out
