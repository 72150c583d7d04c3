"""`python app.py demo` stops everything it started on Ctrl-C (SIGINT to its process group) or SIGTERM."""
import os
import re
import signal
import socket
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


def _processes() -> dict[int, tuple[int, str]]:
    """Return pid → (parent pid, state) of every live process, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            found[int(entry.name)] = (int(ppid), state)
    return found


def _tree(root: int) -> set[int]:
    """Return root's descendants."""
    table, found, todo = _processes(), set(), [root]
    while todo:
        parent = todo.pop()
        children = {pid for pid, (ppid, _) in table.items() if ppid == parent}
        found |= children
        todo += children
    return found


def _serving(folder: Path) -> set[int]:
    """Return the processes working in folder (the embedded redis-server daemonises into it)."""
    found = set()
    for pid in _processes():
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == folder.resolve():
                found.add(pid)
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    state = _processes().get(pid, (0, "X"))[1]
    return state not in ("Z", "X")   # a zombie holds no port and no file: it has stopped


@pytest.mark.parametrize("how", ["SIGINT to the group", "SIGTERM"])
def test_the_demo_leaves_no_process_and_no_port_behind(tmp_path, how):
    folder = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "DINGTALK_", "DEFAULT_PLATFORM", "REDIS_URL", "DATABASE_URL"))}
    env["INSTANCE_PATH"] = str(folder)
    demo = subprocess.Popen([sys.executable, "app.py", "demo", "--port", "0", "--sandbox-port", "0"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        lines = []
        for line in demo.stdout:   # ready once it says where its data stays
            lines.append(line)
            if "数据保留" in line:
                break
        assert demo.poll() is None, "".join(lines)
        ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", "".join(lines))}
        started = _tree(demo.pid) | _serving(folder)
        names = {Path(f"/proc/{pid}/exe").resolve().name for pid in started}
        assert len(ports) == 3 and any("redis-server" in n for n in names), (ports, names)
        if how == "SIGTERM":
            demo.send_signal(signal.SIGTERM)
        else:
            os.killpg(demo.pid, signal.SIGINT)   # what Ctrl-C at a terminal does
        out, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    assert demo.returncode == 0, out
    assert "已停止" in out
    assert [pid for pid in started if _alive(pid)] == []
    for port in ports:
        with socket.socket() as free:
            free.bind(("127.0.0.1", port))


def test_a_killed_demo_takes_its_helpers_with_it(tmp_path):
    """SIGKILL leaves the demo no say: Linux ends the worker and the scheduler when their parent dies."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "DINGTALK_", "DEFAULT_PLATFORM", "REDIS_URL", "DATABASE_URL"))}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    demo = subprocess.Popen([sys.executable, "app.py", "demo", "--port", "0", "--sandbox-port", "0"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        for line in demo.stdout:
            if "数据保留" in line:
                break
        helpers = {pid for pid in _tree(demo.pid) if _processes()[pid][0] == demo.pid}
        assert len(helpers) == 2
        demo.kill()
        demo.wait(timeout=60)
        import time
        deadline = time.monotonic() + 60   # a generous bound on the helpers' own shutdown, not a timing
        while [pid for pid in helpers if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in helpers if _alive(pid)] == []
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid in _serving(tmp_path / "instance"):   # the daemonised Redis is nobody's child: ours to stop
            os.kill(pid, signal.SIGTERM)
