"""The knowledge base: Markdown entries load all or nothing, reload in place, and searches rank by title."""
from __future__ import annotations

import pytest

from exports import knowledge
from handlers.demo.demo import KNOWLEDGE
from models.knowledge import KnowledgeEntry

ENTRY = """---
类型: 事故案例
作业类型: 动火作业
关键词: 动火, 爆炸
来源: 测试
---
# 储罐动火爆炸
未置换清洗的储罐内动火，发生爆炸。
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_samples_load_and_a_reload_updates_in_place(db):
    created, updated = knowledge.load(KNOWLEDGE)
    assert created == KnowledgeEntry.select().count() >= 4 and updated == 0
    assert knowledge.load(KNOWLEDGE) == (0, created)
    assert KnowledgeEntry.select().count() == created


def test_a_search_finds_by_title_keywords_and_body_best_first(db):
    knowledge.load(KNOWLEDGE)
    titles = [e.title for e in knowledge.search("受限空间 硫化氢")]
    assert titles and "受限空间" in titles[0]
    assert any("盲目施救" in t for t in titles)
    assert knowledge.search("受限空间中毒")   # written without spaces, as people type
    assert knowledge.search("核反应堆") == []


def test_a_work_types_entries_include_those_for_every_type(db):
    knowledge.load(KNOWLEDGE)
    titles = [e.title for e in knowledge.for_work_type("hot_work")]
    assert any("动火" in t for t in titles) and any("监护人" in t for t in titles)
    assert not any("盲目施救" in t for t in titles)


@pytest.mark.parametrize("text, problem", [
    (ENTRY.replace("类型: 事故案例", "类型: 八卦"), "不是可用类型"),
    (ENTRY.replace("作业类型: 动火作业", "作业类型: 潜水作业"), "未知作业类型“潜水作业”"),
    (ENTRY.replace("# 储罐动火爆炸\n", ""), "第一行应为"),
    (ENTRY.replace("来源: 测试", "作者: 某人"), "无法识别的头部行"),
])
def test_a_bad_entry_is_refused_by_name_and_nothing_loads(db, tmp_path, text, problem):
    write(tmp_path, "a-good.md", ENTRY)
    write(tmp_path, "b-bad.md", text)
    with pytest.raises(knowledge.KnowledgeError) as refused:
        knowledge.load(tmp_path)
    assert "b-bad.md" in str(refused.value) and problem in str(refused.value)
    assert KnowledgeEntry.select().count() == 0
