"""Reading 变更 编号 and its "字段: 值" lines: what is understood, and the precise refusals."""
from __future__ import annotations

from datetime import datetime

import pytest

from handlers.chat.changes import parse
from workflow import WorkflowError


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_changeable_field_is_read(plant):
    wanted, reason = parse(["作业人: jianghan，weidong", "监护人：chuwei", "结束: 2026-11-24 20:00",
                            "措施: 加设防火毯；增设灭火器", "理由: 沈力调岗"], when)
    assert [p.account for p in wanted["crew"]] == ["jianghan", "weidong"]
    assert [p.account for p in wanted["guardians"]] == ["chuwei"]
    assert wanted["planned_end"] == datetime(2026, 11, 24, 20, 0)
    assert wanted["measures"] == ["加设防火毯", "增设灭火器"] and reason == "沈力调岗"


@pytest.mark.parametrize("lines, message", [
    (["地点: 2#罐区", "理由: 换地方"], "不能变更“地点”"),
    (["作业人: nobody", "理由: 调岗"], "作业人：找不到在职人员 nobody"),
    (["作业人: jianghan"], "请写明变更理由"),
    (["理由: 调岗"], "格式：变更 编号"),
    (["作业人 jianghan"], "无法识别“作业人 jianghan”"),
])
def test_bad_lines_are_refused_by_name(plant, lines, message):
    with pytest.raises(WorkflowError) as refused:
        parse(lines, when)
    assert message in refused.value.message
