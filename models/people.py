"""Find a person by whatever people call them: account, mobile, name, the name's pinyin or its initials.

The one resolver every door uses (chat forms and commands, handover, the command line). A token
that names one person resolves to them; two people of the same name raise Ambiguous, which carries
both so the caller can ask which one; an unknown token raises NotFound with the closest matches.
"""
from __future__ import annotations

import difflib
import itertools
import re
from functools import lru_cache

from pypinyin import Style, pinyin

from .org import Person

SUGGESTIONS = 3
HANDLE = re.compile(r"#([1-9][0-9]{0,9})")   # a person's id, as a click on a choice card names them
_LATIN = re.compile(r"[a-z]+")
_SPELLINGS_PER_NAME = 16                     # heteronyms multiply: 4 characters of 2 readings are 16 spellings


class NameProblem(ValueError):
    """A token that does not name exactly one active person; message is plain Chinese for the person."""

    def __init__(self, token: str, message: str, candidates: list[Person]):
        super().__init__(message)
        self.token, self.message, self.candidates = token, message, candidates


class NotFound(NameProblem):
    pass


class Ambiguous(NameProblem):
    pass


def describe(person: Person) -> str:
    """Name person so that two of the same name can be told apart: unit and the mobile's last 4 digits."""
    tail = f"手机尾号 {person.mobile[-4:]}" if person.mobile else "无手机号"
    return f"{person.name}（{person.department.name}，{tail}）"


def handle(person: Person) -> str:
    """Return a token that resolves to person alone, whatever their name shares with others."""
    return f"#{person.id}"


@lru_cache(maxsize=4096)
def spellings(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """Return the full pinyin spellings of name (jianghan) and its initials (jh), every reading of each character."""
    full = [sorted({s for s in readings if s}) for readings in pinyin(name, style=Style.NORMAL, heteronym=True)]
    first = [sorted({s[0] for s in readings}) for readings in full if readings]
    if not full or any(not readings for readings in full):
        return frozenset(), frozenset()
    joined = frozenset("".join(p) for p in itertools.islice(itertools.product(*full), _SPELLINGS_PER_NAME))
    initials = frozenset("".join(p) for p in itertools.islice(itertools.product(*first), _SPELLINGS_PER_NAME))
    return joined, initials


def _norm(token: str) -> str:
    return re.sub(r"\s+", "", token or "").lower()


def resolve(token: str, *, people=None) -> Person:
    """Return the one active person token names, or raise Ambiguous / NotFound."""
    raw = (token or "").strip()
    text = _norm(raw)
    if not text:
        raise NotFound(raw, "请写明人员（姓名、账号或手机号）", [])
    if (found := HANDLE.fullmatch(text)) is not None:
        person = Person.get_or_none((Person.id == int(found.group(1))) & Person.active)
        if person is None:
            raise NotFound(raw, f"找不到在职人员 {raw}", [])
        return person
    by_account = list(Person.select().where(((Person.wecom_userid == raw) | (Person.dingtalk_userid == raw)
                                             | (Person.mobile == raw)) & Person.active))
    if len(by_account) == 1:
        return by_account[0]
    pool = list(people if people is not None else Person.select().where(Person.active).order_by(Person.id))
    for match in (_by_name, _by_spelling, _by_initials):
        found = by_account or match(text, pool)
        if len(found) == 1:
            return found[0]
        if found:
            shown = "、".join(describe(p) for p in found)
            raise Ambiguous(raw, f"“{raw}”有 {len(found)} 人：{shown}，请选择", found)
    closest = suggest(text, pool)
    hint = f"，您要找的是否为：{'、'.join(describe(p) for p in closest)}" if closest else ""
    raise NotFound(raw, f"找不到人员 {raw}{hint}", closest)


def _by_name(text: str, pool: list[Person]) -> list[Person]:
    return [p for p in pool if _norm(p.name) == text]


def _by_spelling(text: str, pool: list[Person]) -> list[Person]:
    if not _LATIN.fullmatch(text):
        return []
    return [p for p in pool if text in spellings(p.name)[0]]


def _by_initials(text: str, pool: list[Person]) -> list[Person]:
    if not _LATIN.fullmatch(text) or len(text) > 4:
        return []
    return [p for p in pool if text in spellings(p.name)[1]]


def suggest(text: str, pool: list[Person], *, count: int = SUGGESTIONS) -> list[Person]:
    """Return the people whose name, spelling or account comes closest to text, best first."""
    keys: dict[str, set[int]] = {}
    for person in pool:
        names = {_norm(person.name), *(spellings(person.name)[0]),
                 *(a.lower() for a in (person.wecom_userid, person.dingtalk_userid) if a)}
        for key in names:
            keys.setdefault(key, set()).add(person.id)
    by_id = {p.id: p for p in pool}
    ranked: list[Person] = []
    # A shared character is a better hint than none at all (蒋 for 蒋焊), so looser cut-offs follow.
    for cutoff in (0.6, 0.34):
        for key in difflib.get_close_matches(text, list(keys), n=count * 3, cutoff=cutoff):
            for pid in sorted(keys[key]):
                if by_id[pid] not in ranked:
                    ranked.append(by_id[pid])
        if ranked:
            break
    return ranked[:count]
