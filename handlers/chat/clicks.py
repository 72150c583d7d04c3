"""Turn a card button click into the engine command it stands for."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from models import CardRecord, Person
from models.permit import Permit
from workflow import WorkflowError, engine, template as templates
from workflow.machine import record_refusal

from .changes import handle_click as change_click
from .exporting import refresh_click
from .inspections import handle_audit_click as audit_click, handle_click as inspection_click
from .lockout import handle_click as lockout_click
from .meeting import handle_click as meeting_click
from .replies import Replier
from .training import handle_click as quiz_click


def _command(action: actions.Action, event: Event, person: Person):
    if action.action in ("approve", "confirm"):
        return lambda: engine.sign(action.permit_no, action.step, by=person, decision=action.action,
                                   expected_round=action.version, channel=event.platform)
    if action.action == "submit":
        permit = Permit.get_or_none(Permit.no == action.permit_no)
        items = templates.get(permit.work_type).step(action.step).checklist if permit else ()
        ticks = actions.ticked(items, event.selected)
        return lambda: engine.sign(action.permit_no, action.step, by=person, ticks=ticks,
                                   expected_round=action.version, channel=event.platform)
    # 驳回 / 退回修改 need a reason, which a button cannot carry: ask for it in chat.
    return None


def _alarm_click(alarm_id: int, event: Event, person: Person) -> str:
    from sensors.alarms import acknowledge
    try:
        return acknowledge(alarm_id, by=person, channel=event.platform)
    except WorkflowError as exc:
        record_refusal(None, by=person, command="alarm_ack", reason=exc.message, channel=event.platform)
        Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"


def _muster_click(emergency_id: int, event: Event, person: Person) -> str:
    """刷新清点: update the clicked muster card (on single-use platforms, with the click's own code)."""
    from emergency.muster import in_charge, refresh_cards
    from models import Emergency
    emergency = Emergency.get_or_none(Emergency.id == emergency_id)
    if emergency is None or person.id not in {p.id for p in in_charge(emergency)}:
        record_refusal(None, by=person, command="muster_refresh", reason="不是本人的人员清点卡片",
                       channel=event.platform)
        Replier(event, person)("未办理：这不是您负责的人员清点")
        return "refused: not in charge of this muster"
    refresh_cards(emergency, f"click-{event.dedupe_key}"[:100], only=person)
    return "muster shown"


def remember_response_code(event: Event) -> None:
    if event.response_code:
        # The click hands out a fresh single-use code for updating this very card.
        CardRecord.update(response_code=event.response_code, state="open").where(
            CardRecord.task_id == event.task_id).execute()


def handle_click(event: Event, person: Person) -> str:
    """Apply the click; return a one-line result (the chat reply for refusals goes via the outbox)."""
    try:
        alarm_id, export = actions.parse_alarm(event.key), actions.parse_export(event.key)
    except ValueError:
        alarm_id = export = None
    try:
        emergency_id = actions.parse_muster(event.key)
    except ValueError:
        emergency_id = None
    if emergency_id:
        remember_response_code(event)
        return _muster_click(emergency_id, event, person)
    if export:
        # Not remembered on the card record: that keeps the send's code, reserved for the final state.
        return refresh_click(export, event, person)
    if alarm_id:
        remember_response_code(event)
        return _alarm_click(alarm_id, event, person)
    if (done := lockout_click(event, person)) is not None:
        remember_response_code(event)
        return done
    if (done := change_click(event, person)) is not None:
        remember_response_code(event)
        return done
    if (done := meeting_click(event, person)) is not None:
        remember_response_code(event)
        return done
    if (done := quiz_click(event, person)) is not None:
        remember_response_code(event)
        return done
    if (done := inspection_click(event, person)) is not None or (done := audit_click(event, person)) is not None:
        remember_response_code(event)
        return done
    try:
        action = actions.parse(event.key)
    except ValueError:
        record_refusal(None, by=person, command="click", reason=f"无法识别的按钮 {event.key[:60]}",
                       channel=event.platform)
        return "unknown button"
    remember_response_code(event)
    try:
        command = _command(action, event, person)
    except ValueError as exc:
        record_refusal(action.permit_no, by=person, command=action.action, reason=str(exc),
                       channel=event.platform)
        return "bad checklist"
    if command is None:
        verb = "驳回" if action.action == "reject" else "退回"
        record_refusal(action.permit_no, by=person, command=action.action, reason="需要填写理由",
                       channel=event.platform,
                       tell=f"请回复：{verb} {action.permit_no} {action.step} <理由>")
        return "asked for a reason"
    try:
        command()
    except WorkflowError as exc:
        record_refusal(action.permit_no, by=person, command=action.action, reason=exc.message,
                       channel=event.platform)
        return f"refused: {exc.message}"
    return "done"
