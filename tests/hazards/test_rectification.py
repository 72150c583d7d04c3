"""A failed acceptance's rectification deadline is chased: the crew first, then up the permit's unit, once each."""
from __future__ import annotations

from datetime import timedelta

from hazards import deadlines, rectification
from models import Outbox, find_person
from tests.workflow.test_transitions import permit_in
from workflow import reject_acceptance, rectified
from workflow.machine import load


def texts(account: str) -> list[str]:
    return [r.payload.get("text", "") for r in Outbox.select().where(Outbox.person == find_person(account))]


def test_an_overdue_rectification_is_reminded_then_escalated_until_done(plant):
    no, clock = permit_in("completed")
    deadline = clock.now + timedelta(hours=2)
    reject_acceptance(no, by=find_person("yangshou"), reason="现场未清理", deadline=deadline, now=clock.tick())
    assert rectification.chase_due(deadline - timedelta(minutes=1)) == 0
    assert rectification.chase_due(deadline) == 1
    assert rectification.chase_due(deadline) == 0
    assert any("整改期限" in t and "已过" in t for t in texts("jianghan"))
    assert not any("超期上报" in t for t in texts("wuhai"))
    step = deadlines.ESCALATE_EVERY
    assert rectification.chase_due(deadline + step) == 1
    assert any("超期上报" in t and no in t for t in texts("wuhai"))
    rectified(no, by=find_person("jianghan"), now=deadline + step + timedelta(minutes=1))
    assert load(no).rectify_chase_at is None
    assert rectification.chase_due(deadline + 5 * step) == 0


def test_a_rectification_done_in_time_is_never_chased(plant):
    no, clock = permit_in("completed")
    deadline = clock.now + timedelta(hours=2)
    reject_acceptance(no, by=find_person("yangshou"), reason="现场未清理", deadline=deadline, now=clock.tick())
    rectified(no, by=find_person("jianghan"), now=clock.tick())
    assert rectification.chase_due(deadline + timedelta(days=3)) == 0
