"""The 提交 of the hazard domain's checklist cards: the ticked items are the ones that fail (巡检, 抽查)."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from models import Person
from models.hazard import PermitAudit
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


def handle_audit_click(event: Event, person: Person) -> str | None:
    """Record the random audit the card stands for; None when the key is not an audit card's."""
    from hazards import audits
    try:
        audit_id = actions.parse_audit(event.key)
    except ValueError:
        return None
    if audit_id is None:
        return None
    row = PermitAudit.get_or_none(PermitAudit.id == audit_id)
    permit_no = row.permit.no if row is not None else None
    try:
        try:
            failed = actions.ticked(row.items if row is not None else [], event.selected)
        except ValueError:
            raise WorkflowError("勾选的项目不在本次抽查清单中") from None
        done = audits.record_ticks(audit_id, failed, by=person)
    except WorkflowError as exc:
        record_refusal(permit_no, by=person, command="permit_audit", reason=exc.message, channel=event.platform,
                       tell=f"未办理：{exc.message}")
        if permit_no is None:
            Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"
    if done.finding is None:
        Replier(event, person)(f"{permit_no} 抽查合格，已记录")
    else:
        Replier(event, person)(f"{permit_no} 抽查不合格，已登记隐患 {done.finding.no}，"
                               f"请指派整改：指派 {done.finding.no} 责任人账号 期限")
    return "done"
