"""Two people of one name in a message: hold the message, ask which one by a card, then handle it again."""
from __future__ import annotations

import re
from dataclasses import replace

from bot.base import Event
from cards import actions
from models import NameChoice, Outbox, Person, transaction
from models.people import Ambiguous, handle
from workflow.machine import record_refusal

from .replies import Replier

# A name stands between separators in a form line ("作业人: 蒋焊,沈力") or between words of a command.
_EDGE = r"[\s,，、:：]"


def ask_which(event: Event, person: Person, problem: Ambiguous) -> str:
    """Hold event's message and send its writer a card with one button per namesake."""
    with transaction():
        choice = NameChoice.create(person=person, platform=event.platform, text=event.text,
                                   token=problem.token[:64], candidates=[p.id for p in problem.candidates])
        (Outbox.insert(person=person, kind="pick", payload={"kind": "pick", "choice": choice.id},
                       dedupe_key=f"pick:{event.dedupe_key}"[:191])
         .on_conflict_ignore().execute())
    return "asked which namesake"


def substitute(text: str, token: str, chosen: Person) -> str:
    """Put chosen's handle wherever text names token as a whole word."""
    return re.sub(rf"(?:(?<={_EDGE})|^){re.escape(token)}(?={_EDGE}|$)", handle(chosen), text, flags=re.M)


def handle_click(event: Event, person: Person) -> Event | str | None:
    """Apply a namesake button: return the held message with the chosen person in place (a refusal's
    one-line result if the click may not choose), None for other keys."""
    try:
        picked = actions.parse_pick(event.key)
    except ValueError:
        return None
    if picked is None:
        return None
    choice_id, chosen_id = picked
    choice = NameChoice.get_or_none((NameChoice.id == choice_id) & (NameChoice.person == person))
    problem = ("这张选择卡片不是发给您的" if choice is None
               else "已经选择过了" if choice.chosen_id is not None
               else "所选人员不在候选之中" if chosen_id not in choice.candidates else None)
    chosen = Person.get_or_none((Person.id == chosen_id) & Person.active) if problem is None else None
    if problem is None and chosen is None:
        problem = "所选人员已不在职"
    if problem is not None:
        record_refusal(None, by=person, command="pick", reason=problem, channel=event.platform)
        Replier(event, person)(f"未办理：{problem}")
        return f"refused: {problem}"
    with transaction():
        # Only the first click takes: a second one, or a retried callback, finds the choice made.
        taken = (NameChoice.update(chosen=chosen).where((NameChoice.id == choice.id) & NameChoice.chosen.is_null())
                 .execute())
        if taken:
            (Outbox.insert(person=person, kind="pick", payload={"kind": "pick", "choice": choice.id, "settled": True},
                           dedupe_key=f"pick-settle:{choice.id}")
             .on_conflict_ignore().execute())
    if not taken:
        return "already chosen"
    return replace(event, kind="text", text=substitute(choice.text, choice.token, chosen))
