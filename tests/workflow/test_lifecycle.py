"""One permit of each of the eight work types, from submit to close, through the engine's commands."""
import pytest

from models import AuditEvent, Signature, Step
from tests.conftest import MORNING
from workflow import audit, template
from workflow.walkthrough import run_to_close


@pytest.mark.parametrize("work_type", sorted(template.registry()))
def test_each_type_runs_from_submit_to_close(plant, work_type):
    lines = []
    permit = run_to_close(work_type, start=MORNING, say=lines.append)
    assert permit.state == "closed"
    steps = list(Step.select().where(Step.permit == permit))
    t = template.get(work_type)
    expected = [s.key for s in t.steps if s.applies_to(permit.grade)]
    assert sorted(s.key for s in steps if s.state == "done") == sorted(expected)
    assert permit.no.startswith(f"{t.prefix}-20261124-")
    # Every applicable step carries at least one completing signature.
    for step in steps:
        if step.state == "done":
            assert Signature.select().where((Signature.step == step) & Signature.decision.in_(
                ["approve", "confirm", "gas"])).exists(), step.key
    assert audit.verify().ok
    assert AuditEvent.select().where(AuditEvent.permit_no == permit.no).count() > len(expected)
