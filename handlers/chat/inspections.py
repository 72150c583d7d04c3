"""The inspection card's 提交: the ticked items are the ones that do not conform."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from models import Person
from models.inspection import Inspection
from workflow import WorkflowError
from workflow.machine import record_refusal

from .replies import Replier


def handle_click(event: Event, person: Person) -> str | None:
    """Record the round the card stands for; None when the key is not an inspection card's."""
    from hazards import inspections
    try:
        inspection_id = actions.parse_inspection(event.key)
    except ValueError:
        return None
    if inspection_id is None:
        return None
    try:
        row = Inspection.get_or_none(Inspection.id == inspection_id)
        items = row.items if row is not None else []
        try:
            failed = actions.ticked(items, event.selected)
        except ValueError:
            raise WorkflowError("勾选的项目不在本次巡检表中") from None
        done = inspections.record(inspection_id, failed, by=person)
    except WorkflowError as exc:
        record_refusal(None, by=person, command="inspection", reason=exc.message, channel=event.platform)
        Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"
    found = f"，已登记隐患 {'、'.join(done.findings)}" if done.findings else "，全部符合"
    Replier(event, person)(f"巡检“{done.plan.name}”已提交{found}")
    return "done"
