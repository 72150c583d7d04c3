"""The permit application form in chat: which fields a work type asks for, and checking each answer."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import settings
from models import utcnow
from models.people import Ambiguous, NameProblem, handle, resolve
from workflow import gas, places
from workflow.clock import local, parse_local
from workflow.template import Template

SPLIT = re.compile(r"[,，、\s]+")
LINE = re.compile(r"([^:：]+)[:：](.*)")
# Whom the applicant names to coordinate overlapping work, instead of the area's coordinator.
COORDINATOR = "协调人"


@dataclass(frozen=True)
class Question:
    label: str       # what the person types before the colon, and what we ask for
    key: str         # where the answer goes: a permit column, "crew", "guardians", or a type field
    hint: str = ""


def questions(t: Template) -> list[Question]:
    """Return what an application of type t asks, in order."""
    asked = [Question("地点", "location", "例如 3#罐区东侧管廊"), Question("内容", "content", "例如 DN100 管线法兰焊接")]
    if t.grading.by == "declared":
        asked.append(Question("级别", t.grading.attribute, "、".join(reversed(t.grading.levels))))
    elif t.grading.by == "bands":
        asked.append(Question("级别", t.grading.attribute, t.field(t.grading.attribute).label))
    if t.needs_medium:
        asked.append(Question("介质", "medium", "可燃介质名称，例如 甲烷"))
    for f in t.fields:
        if f.required and f.key != t.grading.attribute:
            asked.append(Question(f.label, f.key, "、".join(f.choices)))
    asked += [Question("开始", "planned_start", "例如 2026-11-24 08:00"),
              Question("结束", "planned_end", "例如 2026-11-24 16:00"),
              Question("作业人", "crew", "姓名、账号或手机号，用逗号分隔，第一位为作业负责人"),
               Question("监护人", "guardians", "姓名、账号或手机号")]
    return asked


def optional_labels(t: Template) -> dict[str, str]:
    """Return label → key for the type's optional fields (accepted in the one-message form)."""
    optional = {f.label: f.key for f in t.fields if not f.required and f.key != t.grading.attribute}
    return optional | {COORDINATOR: "coordinator"}


PAST = timedelta(days=1)        # a permit written up just after the work began may start a little back
HORIZON = timedelta(days=366)   # nobody plans hazardous work further ahead than this


def _shown(moment: datetime) -> str:
    return f"{local(moment, settings.current().plant_tz):%Y-%m-%d %H:%M}"


def _moment(text: str) -> datetime:
    """Read a start or end time and refuse one outside the span a permit can be planned in."""
    moment = parse_local(text, settings.current().plant_tz)
    now = utcnow()
    low, high = now - PAST, now + HORIZON
    if not low <= moment <= high:
        raise ValueError(f"“{text.strip()}”超出范围，须在 {_shown(low)} 至 {_shown(high)} 之间")
    return moment


def longest_hours(t: Template) -> float:
    """Return the longest validity any permit of type t can have, in hours."""
    return max([*t.validity_hours.values(), t.validity_special_hours or 0])


def window_problem(t: Template, answers: dict) -> str | None:
    """Return why the answered end lies too far after the answered start, or None."""
    if "planned_start" not in answers or "planned_end" not in answers:
        return None
    start, end = (datetime.fromisoformat(answers[k]) for k in ("planned_start", "planned_end"))
    hours = longest_hours(t)
    if end - start > timedelta(hours=hours):
        return (f"结束：须在开始后 {hours:g} 小时以内（{t.name}最长有效期），"
                f"即不晚于 {_shown(start + timedelta(hours=hours))}")
    return None


def check(t: Template, key: str, raw: str):
    """Turn one answer into its value, or raise ValueError with a message naming what is wrong."""
    text = raw.strip()
    if not text:
        raise ValueError("不能为空")
    if key == "location":
        try:
            places.place_of(text)
        except places.UnknownPlace as exc:
            raise ValueError(exc.message) from None
        return text
    if key == "coordinator":
        return handle(_person(text))
    if key in ("planned_start", "planned_end"):
        return _moment(text).isoformat()
    if key in ("crew", "guardians"):
        role = "作业人" if key == "crew" else "监护人"
        return [handle(_person(token, role=role)) for token in SPLIT.split(text) if token]
    if key == "medium":
        gas.lel_of(text)  # raises UnknownMedium (a ValueError) naming the file to register it in
        return text
    field = t.field(key)
    if field is not None and field.type in ("choice", "multi"):
        values = [v for v in SPLIT.split(text) if v] if field.type == "multi" else [text]
        bad = [v for v in values if v not in field.choices]
        if bad:
            raise ValueError(f"“{'、'.join(bad)}”无效，可选：{'、'.join(field.choices)}")
        return values if field.type == "multi" else text
    if field is not None and field.type in ("int", "float"):
        try:
            float(text.removesuffix("米").removesuffix("吨").removesuffix("m").removesuffix("t"))
        except ValueError:
            raise ValueError(f"“{text}”不是数字") from None
        return text.removesuffix("米").removesuffix("吨").removesuffix("m").removesuffix("t")
    return text


def _person(token: str, *, role: str | None = None):
    """Resolve a named person; of namesakes, only those holding role can be meant."""
    try:
        person = resolve(token)
    except Ambiguous as exc:
        qualified = [p for p in exc.candidates if role is None or role in p.role_names()]
        if len(qualified) > 1:
            raise Ambiguous(exc.token, exc.message, qualified) from None
        if not qualified:
            raise ValueError(f"{exc.token} 有 {len(exc.candidates)} 人，均没有“{role}”资格") from None
        person = qualified[0]
    except NameProblem as exc:
        raise ValueError(exc.message) from None
    if role is not None and role not in person.role_names():
        raise ValueError(f"{person.name}没有“{role}”资格")
    return person


def parse_form(t: Template, lines: list[str]) -> tuple[dict, list[str]]:
    """Read "字段: 值" lines; return the checked answers and a message per bad or unknown line."""
    by_label = {q.label: q.key for q in questions(t)} | optional_labels(t)
    answers, problems = {}, []
    for line in lines:
        match = LINE.fullmatch(line.strip())
        label, value = (match.group(1).strip(), match.group(2)) if match else ("", "")
        if label not in by_label:
            problems.append(f"无法识别“{line.strip()[:30]}”，可填：{'、'.join(by_label)}")
            continue
        try:
            answers[by_label[label]] = check(t, by_label[label], value)
        except Ambiguous:
            raise   # not a mistake: the writer is asked which namesake, and the message is read again
        except ValueError as exc:
            problems.append(f"{label}：{exc}")
    if (problem := window_problem(t, answers)) is not None:
        problems.append(problem)
    return answers, problems


def missing(t: Template, answers: dict) -> list[Question]:
    """Return the questions still unanswered, in asking order."""
    return [q for q in questions(t) if q.key not in answers]
