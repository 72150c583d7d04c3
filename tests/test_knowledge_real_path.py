"""The knowledge base in chat, on WeCom and DingTalk: `知识 关键词` answers with the best entries, and a
permit's 查询 lists its work type's entries."""
from __future__ import annotations

import pytest

from exports import knowledge
from handlers.demo.demo import KNOWLEDGE
from tests.test_wecom_real_path import applied, world  # noqa: F401

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)


def last_text(phone, user: str) -> str:
    return str(phone.messages(user)[-1]["content"])


@BOTH
def test_a_worker_looks_up_the_knowledge_base_in_chat(world):
    phone, drain, _ = world
    knowledge.load(KNOWLEDGE)
    phone.text("jianghan", "知识 受限空间 硫化氢")
    drain()
    answer = last_text(phone, "jianghan")
    assert "【规章制度】受限空间：先通风、再检测、后作业" in answer and "盲目施救" in answer
    phone.text("jianghan", "知识 核反应堆")
    drain()
    assert "没有与“核反应堆”相关的条目" in last_text(phone, "jianghan")
    phone.text("jianghan", "知识")
    drain()
    assert "格式：知识 关键词" in last_text(phone, "jianghan")


@BOTH
def test_a_permits_query_lists_the_knowledge_of_its_work_type(world):
    phone, drain, _ = world
    knowledge.load(KNOWLEDGE)
    permit, _ = applied(phone, drain)
    phone.text("zhuyan", f"查询 {permit.no}")
    drain()
    answer = last_text(phone, "zhuyan")
    assert "本类作业安全知识" in answer and "动火分析：30 分钟内取样" in answer
