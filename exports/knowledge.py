"""The safety knowledge base: loaded from Markdown files (or a folder of them), searched by keywords.

An entry is a Markdown file with a short header between `---` lines (类型, 作业类型, 关键词, 来源) and a
`# 标题` line; its key is the file name, so loading the folder again updates the entries in place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.db import transaction, utcnow
from models.knowledge import KINDS, KnowledgeEntry
from workflow import template

from .workbook import RowError, WorkbookError

HEADER_FIELDS = ("类型", "作业类型", "关键词", "来源")
SEPARATORS = re.compile(r"[、,，;；\s]+")
# Title words weigh most: a search names what an entry is about, not a word it happens to contain.
WEIGHTS = {"title": 3, "keywords": 2, "body": 1}


class KnowledgeError(WorkbookError):
    title = "知识库"


@dataclass
class Parsed:
    key: str
    kind: str
    title: str
    body: str
    work_types: list[str]
    keywords: list[str]
    source: str


def _work_type(value: str) -> str | None:
    for code, t in template.registry().items():
        if value in (code, t.name, t.name.removesuffix("作业")):
            return code
    return None


def parse(path: Path) -> tuple[Parsed | None, list[RowError]]:
    """Read one entry; return it, or the problems that keep it out."""
    where = path.name
    errors: list[RowError] = []

    def error(column, message):
        errors.append(RowError(where, None, column, message))

    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    header: dict[str, str] = {}
    if text.startswith("---\n"):
        head, _, text = text[4:].partition("\n---\n")
        for line in head.splitlines():
            name, sep, value = line.partition(":")
            if not sep:
                name, sep, value = line.partition("：")
            if sep and name.strip() in HEADER_FIELDS:
                header[name.strip()] = value.strip()
            elif line.strip():
                error(None, f"无法识别的头部行“{line.strip()}”，可用：{'、'.join(HEADER_FIELDS)}")
    lines = text.strip().splitlines()
    title = lines[0].lstrip("#").strip() if lines and lines[0].startswith("#") else ""
    if not title:
        error("标题", "第一行应为“# 标题”")
    kind = header.get("类型", "")
    if kind not in KINDS:
        error("类型", f"“{kind}”不是可用类型，可选：{'、'.join(KINDS)}")
    work_types = []
    for name in filter(None, SEPARATORS.split(header.get("作业类型", ""))):
        code = _work_type(name)
        if code is None:
            error("作业类型", f"未知作业类型“{name}”")
        else:
            work_types.append(code)
    body = "\n".join(lines[1:]).strip()
    if not body:
        error("内容", "不能为空")
    if errors:
        return None, errors
    keywords = [k for k in SEPARATORS.split(header.get("关键词", "")) if k]
    return Parsed(path.stem[:64], kind, title[:200], body, work_types, keywords, header.get("来源", "")[:200]), []


def load(path: str | Path) -> tuple[int, int]:
    """Load a Markdown entry or a folder of them, all or nothing; return (created, updated)."""
    path = Path(path)
    files = sorted(path.glob("*.md")) if path.is_dir() else [path]
    if not files:
        raise KnowledgeError([RowError(str(path), None, None, "没有找到 .md 文件")])
    parsed, errors = [], []
    for file in files:
        entry, problems = parse(file)
        errors += problems
        if entry:
            parsed.append(entry)
    if errors:
        raise KnowledgeError(errors)
    created = 0
    with transaction():
        for entry in parsed:
            fields = dict(kind=entry.kind, title=entry.title, body=entry.body, work_types=entry.work_types,
                          keywords=entry.keywords, source=entry.source, updated_at=utcnow())
            # Looked up, not judged by the UPDATE's row count: MySQL counts only rows whose values changed.
            if KnowledgeEntry.select().where(KnowledgeEntry.key == entry.key).exists():
                KnowledgeEntry.update(**fields).where(KnowledgeEntry.key == entry.key).execute()
            else:
                KnowledgeEntry.create(key=entry.key, **fields)
                created += 1
    return created, len(parsed) - created


def _terms(query: str) -> list[str]:
    terms = [t for t in SEPARATORS.split(query) if t]
    # Chinese is written without spaces: a long term also counts by its two-character pieces, so
    # "受限空间中毒" finds an entry about 受限空间 and 中毒.
    pieces = [t[i:i + 2] for t in terms if len(t) > 3 for i in range(len(t) - 1)]
    return terms + pieces


def search(query: str, *, work_type: str | None = None, limit: int = 3) -> list[KnowledgeEntry]:
    """Return the best entries for the query's words, best first; a work type's name counts as a word."""
    terms = _terms(query)
    code = _work_type(query.strip()) if query.strip() else None
    if not terms and not work_type:
        return []
    scored = []
    for entry in KnowledgeEntry.select():
        score = 0
        for term in terms:
            score += WEIGHTS["title"] * (term in entry.title)
            score += WEIGHTS["keywords"] * any(term in k or k in term for k in entry.keywords)
            score += WEIGHTS["body"] * (term in entry.body)
        for wanted in filter(None, (work_type, code)):
            score += 4 * (wanted in entry.work_types)
        if score:
            scored.append((-score, entry.id, entry))
    return [entry for *_, entry in sorted(scored)[:limit]]


def for_work_type(code: str, limit: int = 5) -> list[KnowledgeEntry]:
    """Return the entries of a work type (and those for every type), newest first."""
    entries = [e for e in KnowledgeEntry.select().order_by(KnowledgeEntry.updated_at.desc())
               if code in e.work_types or not e.work_types]
    return entries[:limit]
