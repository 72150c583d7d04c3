"""Cards of a change request (作业变更): each approver at the current stage agrees or refuses."""
from __future__ import annotations

from models import ChangeRequest
from workflow import changes

from . import actions, links
from .card import DANGER, PRIMARY, Button, Card, Field


def task_id(change_id: int, side: str, person_id: int, serial: int | None = None) -> str:
    return f"change-{change_id}-s{side}-p{person_id}" + (f"-n{serial}" if serial is not None else "")


def _fields(change: ChangeRequest) -> tuple[Field, ...]:
    return ((Field("作业票", change.permit.no), Field("申请人", change.requested_by.name))
            + tuple(Field(name, value) for name, value in changes.describe(change))
            + (Field("变更理由", change.reason),))


def ask_card(change_id: int, stage: int, *, person_id: int, base_url: str = "",
             serial: int | None = None) -> Card:
    """Return the card asking an approver of the change's stage to agree, or its outcome once settled."""
    change = ChangeRequest.get_by_id(change_id)
    tid = task_id(change_id, str(stage), person_id, serial)
    if change.state != changes.PENDING or change.stage != stage:
        return settled_card(change_id, stage, task_id=tid)
    return Card(kind="sign", task_id=tid, title="作业变更：待您审批",
                subtitle=f"{change.permit.no} {change.permit.location}", fields=_fields(change),
                buttons=(Button("同意变更", actions.change_key("approve", change.id), PRIMARY),
                         Button("不同意", actions.change_key("refuse", change.id), DANGER)),
                notice="审批通过前，作业票按原内容执行；不同意不影响原作业票",
                url=links.url(change.permit, base_url=base_url) if base_url else "")


def settled_card(change_id: int, stage: int, *, task_id: str) -> Card:
    """Return what a change card becomes once its stage is decided (or the change ended)."""
    change = ChangeRequest.get_by_id(change_id)
    mine = [d for d in change.decisions or [] if d["stage"] == stage]
    said = "；".join(f"{d['name']}{'同意' if d['decision'] == 'approve' else '不同意'}" for d in mine)
    text = {"approved": "变更已审批同意并生效", "rejected": "变更未获同意，作业票按原内容继续有效",
            "void": "作业票已结束，本次变更作废"}.get(change.state, "本级已审批，转下一级审批")
    return Card(kind="outcome", task_id=task_id, title="已办理：作业变更审批", subtitle=change.permit.no,
                fields=_fields(change), buttons=(), notice=f"{said}。{text}" if said else text)
