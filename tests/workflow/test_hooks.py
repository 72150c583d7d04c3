"""The engine's gates: named by the engine, wired by the composition root, closed when left unwired."""
from __future__ import annotations

import pytest

from models import GasReading, Outbox
from tests.workflow.test_rules import clock_for, gas_test, hot, refused, reload, submitted
from workflow import GateNotWired, hooks


@pytest.fixture
def unwired():
    """Leave gate by gate unwired: return a function that empties the named gate for this test."""
    saved = {name: list(checks) for name, checks in hooks.CHECKS.items()}

    def unwire(name: str) -> None:
        hooks.CHECKS[name].clear()

    yield unwire
    for name, checks in saved.items():
        hooks.CHECKS[name][:] = checks


def test_an_unwired_certificate_gate_refuses_the_submit_and_the_permit_stays_a_draft(plant, unwired):
    permit = hot("一级")
    unwired("certificates")
    outbox = Outbox.select().count()
    with refused(GateNotWired, "安全检查“人员持证检查”未接入，本操作已拒绝，请联系系统管理员", permit) as caught:
        submitted(permit)
    assert caught.value.gate == "certificates"
    assert reload(permit).state == "draft" and Outbox.select().count() == outbox


def test_an_unwired_gas_reading_gate_refuses_the_reading_and_stores_none(plant, unwired):
    permit = submitted(hot("一级"))
    unwired("gas_reading")
    with refused(GateNotWired, "安全检查“气体检测读数处置”未接入", permit):
        gas_test(permit, clock_for(permit).tick())
    assert GasReading.select().where(GasReading.permit == permit).count() == 0


def test_every_gate_refuses_when_nothing_is_registered(unwired):
    for name in hooks.GATES:
        unwired(name)
        with pytest.raises(GateNotWired) as caught:
            hooks.problems(name, None)
        assert caught.value.gate == name and hooks.GATES[name] in caught.value.message


def test_a_registered_check_is_kept_once_and_an_unknown_gate_is_refused(unwired):
    def no_problems(permit, **kwargs):
        return []

    unwired("monitoring")
    hooks.register("monitoring", no_problems)
    hooks.register("monitoring", no_problems)   # a second create_app() in one process
    assert hooks.CHECKS["monitoring"] == [no_problems]
    assert "monitoring" not in hooks.unwired()
    with pytest.raises(KeyError, match="no gate named 'gass'"):
        hooks.register("gass", no_problems)
