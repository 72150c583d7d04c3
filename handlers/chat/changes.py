"""Chat commands and card clicks of change requests: 变更 编号 (then 字段: 值), 不同意变更 编号 理由."""
from __future__ import annotations

from bot.base import Event
from cards import actions
from models import ChangeRequest, Person, find_person
from workflow import WorkflowError, changes

from .replies import Replier

USAGE = ("格式：变更 编号，换行逐项写要变更的内容和理由，例如：\n"
         "变更 DH-20261124-0001\n作业人: jianghan,weidong\n监护人: chuwei\n结束: 2026-11-24 20:00\n"
         "措施: 加设防火毯；增设灭火器\n理由: 沈力调岗\n"
         "可变更：作业人、监护人、开始、结束、措施；作业内容、地点变更须重新办理作业票")
FIELDS = {"作业人": "crew", "监护人": "guardians", "开始": "planned_start", "结束": "planned_end",
          "措施": "measures", "安全措施": "measures"}


def _people(text: str, label: str) -> list[Person]:
    found = []
    for account in (a.strip() for a in text.replace("，", ",").replace("、", ",").split(",")):
        if not account:
            continue
        person = find_person(account)
        if person is None or not person.active:
            raise WorkflowError(f"{label}：找不到在职人员 {account}")
        found.append(person)
    if not found:
        raise WorkflowError(f"{label}：请至少写一人")
    return found


def parse(lines: list[str], when) -> tuple[dict, str]:
    """Read "字段: 值" lines into (changes, reason); anything unknown or malformed is refused by name."""
    wanted, reason = {}, ""
    for line in lines:
        name, sep, value = line.replace("：", ":", 1).partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise WorkflowError(f"无法识别“{line.strip()}”：请写成“字段: 值”")
        if name in ("理由", "原因"):
            reason = value
        elif name not in FIELDS:
            raise WorkflowError(f"不能变更“{name}”：可变更作业人、监护人、开始、结束、措施；"
                                "作业内容、地点变更须重新办理作业票")
        elif FIELDS[name] in ("crew", "guardians"):
            wanted[FIELDS[name]] = _people(value, name)
        elif FIELDS[name] == "measures":
            wanted["measures"] = [m.strip() for m in value.replace(";", "；").split("；") if m.strip()]
        else:
            wanted[FIELDS[name]] = when(value)
    if not wanted:
        raise WorkflowError(USAGE)
    if not reason:
        raise WorkflowError("请写明变更理由（换行写“理由: …”）")
    return wanted, reason


def ask(head, lines, person, reply, _event, *, when, permit_no) -> None:
    no = permit_no(head)
    wanted, reason = parse(lines, when)
    out = changes.request(no, by=person, changes=wanted, reason=reason)
    reply(f"{no} {out.detail}", permit_no=no)


def refuse(head, _lines, person, reply, event, *, permit_no) -> None:
    parts = head.split(maxsplit=2)
    if len(parts) < 3:
        raise WorkflowError("格式：不同意变更 编号 理由")
    no = permit_no(parts[1])
    out = changes.decide(changes.pending(no).id, by=person, approve=False, reason=parts[2],
                         channel=event.platform)
    reply(f"{no} {out.detail}", permit_no=no)


def handle_click(event: Event, person: Person) -> str | None:
    """Apply a change card's button; None when the key is not one."""
    from workflow.machine import record_refusal
    try:
        found = actions.parse_change(event.key)
    except ValueError:
        return None
    if found is None:
        return None
    ask_, change_id = found
    row = ChangeRequest.get_or_none(ChangeRequest.id == change_id)
    permit_no = row.permit.no if row else None
    if ask_ == "refuse" and row is not None:
        # A button cannot carry the reason: ask for it in chat, as a refused step does.
        record_refusal(permit_no, by=person, command="decide_change", reason="需要填写理由",
                       channel=event.platform, tell=f"请回复：不同意变更 {permit_no} <理由>")
        return "asked for a reason"
    try:
        if row is None:
            raise WorkflowError("没有这项变更申请")
        changes.decide(change_id, by=person, approve=True, channel=event.platform)
        return "done"
    except WorkflowError as exc:
        record_refusal(permit_no, by=person, command="decide_change", reason=exc.message,
                       channel=event.platform, tell=f"未办理：{exc.message}")
        if permit_no is None:
            Replier(event, person)(f"未办理：{exc.message}")
        return f"refused: {exc.message}"
