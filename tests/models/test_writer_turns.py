"""SQLite writers of one process take turns on a lock of the process, not in SQLite's busy handler."""
from __future__ import annotations

import threading

import pytest

from models import database, transaction


def test_writers_of_one_process_never_meet_sqlites_lock(db):
    if not database.obj.__class__.__name__.startswith("Sqlite"):
        pytest.skip("a turn of the process is SQLite's; server databases lock rows")
    database.execute_sql("CREATE TABLE turn_probe (n INTEGER)")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            database.connect(reuse_if_open=True)
            # No busy handler at all: a writer that met another's lock would fail at once.
            database.execute_sql("PRAGMA busy_timeout = 0")
            start.wait()
            for _ in range(25):
                with transaction():
                    database.execute_sql("INSERT INTO turn_probe VALUES (?)", (n,))
                database.execute_sql("UPDATE turn_probe SET n = n WHERE n = ?", (n,))   # a write of its own
        except BaseException as exc:   # surfaced below
            errors.append(exc)
        finally:
            database.execute_sql("PRAGMA busy_timeout = 5000")
            database.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert database.execute_sql("SELECT COUNT(*) FROM turn_probe").fetchone() == (200,)
