"""Two people at once: a 或签 step signed from two phones at the same instant, permits numbered in a rush."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Callable

from models import Outbox, Person, Signature, Step, database, find_person
from models.permit import Permit
from tests.conftest import MORNING
from workflow import AlreadySigned, audit, check_in, sign, submit
from workflow.walkthrough import Clock, _act, draft


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Run each job in its own thread, all released at once; return each result or exception."""
    results: list[object] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc
        finally:
            database.close()  # peewee keeps one connection per thread

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def at_unit_approval() -> tuple[str, Clock]:
    """Return a sample hot-work permit whose 基层单位审批 (或签) is the active step."""
    clock = Clock(MORNING - timedelta(minutes=90))
    permit = draft("hot_work", start=MORNING)
    submit(permit.no, by=permit.applicant, now=clock.tick())
    while (step := Step.get((Step.permit == permit) & (Step.state == "active"))).key != "approve_unit":
        _act(Permit.get_by_id(permit.id), step, clock, lambda line: None)
    return permit.no, clock


def test_or_sign_race_has_one_winner_and_the_loser_is_told_who(plant):
    heads = {"wuhai": find_person("wuhai"), "shiwen": find_person("shiwen")}
    for _ in range(5):
        no, clock = at_unit_approval()
        for head in heads.values():
            check_in(no, by=head, now=clock.tick())
        card, now = Permit.get(Permit.no == no).version, clock.tick()  # both hold the same card

        def click(head: Person) -> Callable[[], object]:
            return lambda: sign(no, "approve_unit", by=head, expected_version=card, now=now)

        results = dict(zip(heads, run_together([click(p) for p in heads.values()])))
        winners = [name for name, r in results.items() if not isinstance(r, BaseException)]
        assert len(winners) == 1, results
        (loser,) = set(heads) - set(winners)
        assert isinstance(results[loser], AlreadySigned), results[loser]
        assert f"已由 {heads[winners[0]].name} 于" in results[loser].message

        step = Step.get((Step.permit == Permit.get(Permit.no == no)) & (Step.key == "approve_unit"))
        rows = list(Signature.select().where(Signature.step == step))
        assert [(s.person_id, s.decision) for s in rows] == [(heads[winners[0]].id, "approve")]
        assert step.state == "done"
        assert Outbox.select().where((Outbox.permit_no == no) & (Outbox.person == heads[loser])
                                     & (Outbox.kind == "outcome")).exists()
        report = audit.verify()
        assert report.ok, report.text()


def test_permits_created_at_once_get_consecutive_numbers(plant):
    results = run_together([lambda: draft("hot_work", start=MORNING).no for _ in range(20)])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert sorted(results) == [f"DH-20261124-{i:04d}" for i in range(1, 21)]
    assert Permit.select().count() == 20
    report = audit.verify()
    assert report.ok, report.text()
