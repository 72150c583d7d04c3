"""scripts/test-engines.sh: a configured engine that does not answer fails under CI and is skipped aloud elsewhere."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEAD_PG = "postgresql://ci:hunter2@127.0.0.1:1/test"   # port 1: nothing listens, the refusal is immediate


def run(*, ci: str | None, pg: str = DEAD_PG, mysql: str = "") -> subprocess.CompletedProcess:
    # SQLITE would start a whole suite on SQLite: this test is about the server engines' URLs.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL", "SQLITE")}
    env.update(PY=sys.executable, PG_URL=pg, MYSQL_URL=mysql)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(["sh", "scripts/test-engines.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_under_ci_an_engine_that_does_not_answer_fails_the_run_and_names_its_url():
    done = run(ci="true")
    assert done.returncode == 1
    assert ("== FAILED: PostgreSQL does not answer at postgresql://ci:***@127.0.0.1:1/test"
            in done.stdout)
    assert "hunter2" not in done.stdout + done.stderr
    assert "== suite on" not in done.stdout


def test_under_ci_a_malformed_url_fails_the_run_too():
    done = run(ci="true", pg="", mysql="mysq://root@127.0.0.1:3306/test")
    assert done.returncode == 1
    assert "== FAILED: MariaDB/MySQL does not answer at mysq://root@127.0.0.1:3306/test" in done.stdout


def test_outside_ci_an_engine_that_does_not_answer_is_skipped_and_said_so():
    done = run(ci=None)
    assert done.returncode == 0
    assert "== SKIPPED: PostgreSQL does not answer at postgresql://ci:***@127.0.0.1:1/test" in done.stdout


def test_an_engine_without_a_url_is_not_configured_and_skipped_even_under_ci():
    done = run(ci="true", pg="", mysql="")
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["== PostgreSQL: no URL configured, skipped",
                                        "== MariaDB/MySQL: no URL configured, skipped"]


def test_with_sqlite_set_the_sqlite_run_starts_without_it_so_no_run_starts_another(tmp_path):
    # A stand-in for the venv's python: it says what it was asked to run and whether SQLITE reached it.
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "ran $* DATABASE_URL=${DATABASE_URL:-unset} SQLITE=${SQLITE:-unset}"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL")}
    env.update(PY=str(fake), PG_URL="", MYSQL_URL="", SQLITE="1", DATABASE_URL="postgresql://elsewhere/x")
    done = subprocess.run(["sh", "scripts/test-engines.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    assert "== suite on SQLite: started; its output follows when every run ends" in done.stdout
    assert "ran -m pytest -q --durations=15 DATABASE_URL=unset SQLITE=unset" in done.stdout
