"""`知识 <关键词>`: the safety knowledge base's best entries for a few words, in chat."""
from __future__ import annotations

from exports import knowledge
from models import Person
from workflow import WorkflowError

# What a person in a hurry most often looks for; offered when a search finds nothing.
SUGGESTED = ("动火", "受限空间", "监护人", "气体分析", "硫化氢")
EXCERPT_LINES = 3


def entry_text(entry) -> str:
    lines = [line.strip() for line in entry.body.splitlines() if line.strip()][:EXCERPT_LINES]
    source = f"（来源：{entry.source}）" if entry.source else ""
    return f"【{entry.kind}】{entry.title}{source}\n" + "\n".join(f"  {line}" for line in lines)


def answer(query: str) -> str:
    found = knowledge.search(query)
    if not found:
        return f"知识库中没有与“{query}”相关的条目。可以试试：{'、'.join(SUGGESTED)}"
    return "\n\n".join(entry_text(e) for e in found)


def _search(head, _lines, _person: Person, reply, _event) -> None:
    parts = head.split(maxsplit=1)
    if len(parts) < 2:
        raise WorkflowError(f"格式：知识 关键词，例如：知识 动火 气体分析（可试：{'、'.join(SUGGESTED)}）")
    reply(answer(parts[1]))


COMMANDS = {"知识": _search}
