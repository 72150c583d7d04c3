"""The one place that builds and parses button keys such as permit.approve:DH-20261124-0001:approve_unit:7."""
from __future__ import annotations

import re
from dataclasses import dataclass

# approve / confirm sign the step; reject / return refuse it (the handler asks for the reason);
# submit sends a checklist card's ticks.
ACTIONS = ("approve", "confirm", "reject", "return", "submit")
PREFIX = "permit"
MAX_KEY_BYTES = 1024             # WeCom: button, submit and question keys are at most 1024 bytes
MAX_OPTION_ID_BYTES = 128        # WeCom: checkbox option ids are at most 128 bytes

# Permit numbers look like DH-20261124-0001 and step keys like approve_unit (both ≤32 characters in
# the database). Both are held to WeCom's task_id alphabet, so neither holds the separator and a
# key splits back into exactly its parts.
_PERMIT_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,31}")
_STEP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,31}")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_OPTION = re.compile(r"o([1-9][0-9]?)")


@dataclass(frozen=True)
class Action:
    action: str
    permit_no: str
    step: str
    version: int


def key(action: str, permit_no: str, step: str, version: int) -> str:
    """Build the button key for action on permit_no's step; version is the step's round."""
    if action not in ACTIONS:
        raise ValueError(f"unknown card action {action!r}")
    if not _PERMIT_NO.fullmatch(permit_no or ""):
        raise ValueError(f"not a permit number: {permit_no!r}")
    if not _STEP.fullmatch(step or ""):
        raise ValueError(f"not a step key: {step!r}")
    if isinstance(version, bool) or not isinstance(version, int) or not _VERSION.fullmatch(str(version)):
        raise ValueError(f"not a permit version: {version!r}")
    text = f"{PREFIX}.{action}:{permit_no}:{step}:{version}"
    if len(text.encode("utf-8")) > MAX_KEY_BYTES:  # cannot happen with the patterns above; kept as a guard
        raise ValueError("button key longer than 1024 bytes")
    return text


def parse(text: str) -> Action:
    """Read a button key back into an Action; anything not made by key() raises ValueError."""
    if not isinstance(text, str) or not text or len(text.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError("not a card button key")
    head, sep, rest = text.partition(":")
    prefix, dot, action = head.partition(".")
    parts = rest.split(":")
    if not (sep and dot) or prefix != PREFIX or len(parts) != 3:
        raise ValueError(f"not a card button key: {text[:80]!r}")
    permit_no, step, version = parts
    if action not in ACTIONS:
        raise ValueError(f"unknown card action {action!r}")
    if not (_PERMIT_NO.fullmatch(permit_no) and _STEP.fullmatch(step) and _VERSION.fullmatch(version)):
        raise ValueError(f"malformed card button key: {text[:80]!r}")
    return Action(action, permit_no, step, int(version))


ALARM_PREFIX = "alarm.ack:"


def alarm_key(alarm_id: int) -> str:
    """Build the key of an alarm card's 确认收到 button."""
    if isinstance(alarm_id, bool) or not isinstance(alarm_id, int) or alarm_id < 1:
        raise ValueError(f"not an alarm id: {alarm_id!r}")
    return f"{ALARM_PREFIX}{alarm_id}"


def _after_prefix(text: str, prefix: str, pattern: re.Pattern, what: str) -> str | None:
    """Return what follows prefix in a key, None for a key without it; a malformed rest raises."""
    if not isinstance(text, str) or not text.startswith(prefix):
        return None
    rest = text[len(prefix):]
    if not pattern.fullmatch(rest):
        raise ValueError(f"malformed {what} button key: {text[:80]!r}")
    return rest


def parse_alarm(text: str) -> int | None:
    """Return the alarm id of an alarm button key, None for any other key."""
    found = _after_prefix(text, ALARM_PREFIX, _VERSION, "alarm")
    return int(found) if found else None


EXPORT_PREFIX = "export.progress:"
_EXPORT_ID = re.compile(r"[0-9a-f]{16}")


def export_key(export_id: str) -> str:
    """Build the key of an export's progress card button, 刷新进度."""
    if not _EXPORT_ID.fullmatch(export_id or ""):
        raise ValueError(f"not an export id: {export_id!r}")
    return f"{EXPORT_PREFIX}{export_id}"


def parse_export(text: str) -> str | None:
    """Return the export id of a 刷新进度 button key, None for any other key."""
    return _after_prefix(text, EXPORT_PREFIX, _EXPORT_ID, "export")


def option_id(index: int) -> str:
    """Return the checkbox option id of a checklist's index-th item (0-based)."""
    if not 0 <= index < 99:
        raise ValueError(f"checklist item index out of range: {index}")
    return f"o{index + 1}"


def ticked(items: tuple[str, ...] | list[str], option_ids) -> list[str]:
    """Turn the option ids a checklist card sent back into the items' texts, in checklist order."""
    chosen = set(option_indexes(len(items), option_ids))
    return [item for i, item in enumerate(items) if i in chosen]


# Isolation and handover cards: one button each, whose click is the signature.
ISOLATION_PREFIX, HANDOVER_PREFIX = "isolation.", "handover.confirm:"
ISOLATION_ASKS = ("verify", "release")
_ISOLATION = re.compile(r"(verify|release):([1-9][0-9]{0,9})")


def isolation_key(ask: str, point_id: int) -> str:
    """Build the key of an isolation card's 确认隔离 (verify) or 解除隔离 (release) button."""
    if ask not in ISOLATION_ASKS or isinstance(point_id, bool) or not isinstance(point_id, int) or point_id < 1:
        raise ValueError(f"not an isolation button: {ask!r} {point_id!r}")
    return f"{ISOLATION_PREFIX}{ask}:{point_id}"


def parse_isolation(text: str) -> tuple[str, int] | None:
    """Return (ask, point id) of an isolation button key, None for any other key."""
    found = _after_prefix(text, ISOLATION_PREFIX, _ISOLATION, "isolation")
    if found is None:
        return None
    ask, point_id = found.split(":")
    return ask, int(point_id)


def handover_key(handover_id: int) -> str:
    """Build the key of a handover card's 确认 button (交班确认 and 接班确认 alike)."""
    if isinstance(handover_id, bool) or not isinstance(handover_id, int) or handover_id < 1:
        raise ValueError(f"not a handover id: {handover_id!r}")
    return f"{HANDOVER_PREFIX}{handover_id}"


def parse_handover(text: str) -> int | None:
    """Return the handover id of a handover button key, None for any other key."""
    found = _after_prefix(text, HANDOVER_PREFIX, _VERSION, "handover")
    return int(found) if found else None


MUSTER_PREFIX = "muster.refresh:"


def muster_key(emergency_id: int) -> str:
    """Build the key of a muster card's 刷新清点 button."""
    if isinstance(emergency_id, bool) or not isinstance(emergency_id, int) or emergency_id < 1:
        raise ValueError(f"not an emergency id: {emergency_id!r}")
    return f"{MUSTER_PREFIX}{emergency_id}"


def parse_muster(text: str) -> int | None:
    """Return the emergency id of a 刷新清点 button key, None for any other key."""
    found = _after_prefix(text, MUSTER_PREFIX, _VERSION, "muster")
    return int(found) if found else None


# A namesake choice card: one button per person the name could mean.
PICK_PREFIX = "person.pick:"
_PICK = re.compile(r"([1-9][0-9]{0,9}):([1-9][0-9]{0,9})")


def pick_key(choice_id: int, person_id: int) -> str:
    """Build the key of the button that picks person_id for a held message's name."""
    for value in (choice_id, person_id):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"not a namesake choice: {choice_id!r} {person_id!r}")
    return f"{PICK_PREFIX}{choice_id}:{person_id}"


def parse_pick(text: str) -> tuple[int, int] | None:
    """Return (choice id, person id) of a namesake button key, None for any other key."""
    found = _after_prefix(text, PICK_PREFIX, _PICK, "namesake")
    if found is None:
        return None
    choice_id, person_id = found.split(":")
    return int(choice_id), int(person_id)


# Change-request cards: 同意变更 settles the signer's part; 不同意 asks for the reason in chat.
CHANGE_PREFIX = "change."
CHANGE_ASKS = ("approve", "refuse")
_CHANGE = re.compile(r"(approve|refuse):([1-9][0-9]{0,9})")


def change_key(ask: str, change_id: int) -> str:
    """Build the key of a change card's 同意变更 (approve) or 不同意 (refuse) button."""
    if ask not in CHANGE_ASKS or isinstance(change_id, bool) or not isinstance(change_id, int) or change_id < 1:
        raise ValueError(f"not a change button: {ask!r} {change_id!r}")
    return f"{CHANGE_PREFIX}{ask}:{change_id}"


def parse_change(text: str) -> tuple[str, int] | None:
    """Return (ask, change id) of a change button key, None for any other key."""
    found = _after_prefix(text, CHANGE_PREFIX, _CHANGE, "change")
    if found is None:
        return None
    ask, change_id = found.split(":")
    return ask, int(change_id)


# Quiz cards: 培训 lists courses (quiz.start:<course>); a question card answers by its button
# (quiz.answer:<attempt>:<asked>:<option>) or, for multiple choice, by its ticks and 提交答案
# (quiz.submit:<attempt>:<asked>). <asked> is the question's place in the attempt, from 0.
QUIZ_PREFIX = "quiz."
_ID = r"([1-9][0-9]{0,9})"
_QUIZ = re.compile(rf"start:{_ID}|answer:{_ID}:(0|[1-9][0-9]{{0,3}}):([0-9])|submit:{_ID}:(0|[1-9][0-9]{{0,3}})")


@dataclass(frozen=True)
class QuizAction:
    action: str          # start, answer or submit
    number: int          # the course (start) or the attempt
    asked: int = 0
    option: int = 0


def quiz_key(action: str, number: int, asked: int = 0, option: int = 0) -> str:
    """Build the key of a quiz button: start a course, answer with one option, or submit ticks."""
    for value in (number, asked, option):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"not a quiz button: {action!r} {number!r} {asked!r} {option!r}")
    text = {"start": f"start:{number}", "answer": f"answer:{number}:{asked}:{option}",
            "submit": f"submit:{number}:{asked}"}.get(action)
    if text is None or not _QUIZ.fullmatch(text):
        raise ValueError(f"not a quiz button: {action!r} {number!r} {asked!r} {option!r}")
    return QUIZ_PREFIX + text


def parse_quiz(text: str) -> QuizAction | None:
    """Return the QuizAction of a quiz button key, None for any other key."""
    found = _after_prefix(text, QUIZ_PREFIX, _QUIZ, "quiz")
    if found is None:
        return None
    action, *numbers = found.split(":")
    return QuizAction(action, *map(int, numbers))


def option_indexes(count: int, option_ids) -> list[int]:
    """Turn the option ids a checklist card sent back into item indexes (0-based), ascending."""
    chosen = set()
    for raw in option_ids:
        match = _OPTION.fullmatch(raw or "") if isinstance(raw, str) else None
        if match is None or int(match.group(1)) > count:
            raise ValueError(f"unknown checklist option {raw!r}")
        chosen.add(int(match.group(1)) - 1)
    return sorted(chosen)


# Inspection cards: 提交 sends the items ticked 不符合 (none ticked: everything conforms).
INSPECTION_PREFIX = "inspection.submit:"


def inspection_key(inspection_id: int) -> str:
    """Build the key of an inspection card's 提交 button (and of its checklist question)."""
    if isinstance(inspection_id, bool) or not isinstance(inspection_id, int) or inspection_id < 1:
        raise ValueError(f"not an inspection id: {inspection_id!r}")
    return f"{INSPECTION_PREFIX}{inspection_id}"


def parse_inspection(text: str) -> int | None:
    """Return the inspection id of an inspection card's key, None for any other key."""
    found = _after_prefix(text, INSPECTION_PREFIX, _VERSION, "inspection")
    return int(found) if found else None


# Audit cards (抽查): 提交 sends the measures ticked 不合格 (none ticked: the permit passes).
AUDIT_PREFIX = "audit.submit:"


def audit_key(audit_id: int) -> str:
    """Build the key of an audit card's 提交 button (and of its checklist question)."""
    if isinstance(audit_id, bool) or not isinstance(audit_id, int) or audit_id < 1:
        raise ValueError(f"not an audit id: {audit_id!r}")
    return f"{AUDIT_PREFIX}{audit_id}"


def parse_audit(text: str) -> int | None:
    """Return the audit id of an audit card's key, None for any other key."""
    found = _after_prefix(text, AUDIT_PREFIX, _VERSION, "audit")
    return int(found) if found else None


# Pre-shift meeting cards (班前会): 确认参会, after the attendee's scan at the meeting's place.
MEETING_PREFIX = "meeting.confirm:"


def meeting_key(meeting_id: int) -> str:
    """Build the key of a meeting card's 确认参会 button."""
    if isinstance(meeting_id, bool) or not isinstance(meeting_id, int) or meeting_id < 1:
        raise ValueError(f"not a meeting id: {meeting_id!r}")
    return f"{MEETING_PREFIX}{meeting_id}"


def parse_meeting(text: str) -> int | None:
    """Return the meeting id of a 确认参会 button key, None for any other key."""
    found = _after_prefix(text, MEETING_PREFIX, _VERSION, "meeting")
    return int(found) if found else None
