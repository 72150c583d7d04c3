"""A gate left unwired, end to end: the application in chat is refused in plain words and nothing moves."""
from __future__ import annotations

import pytest

from models import Permit, Step
from workflow import hooks

from tests.test_wecom_real_path import apply_text
from tests.worlds import world as a_world


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    """Start both sandboxes and the app (which wires every gate); yield the World."""
    with a_world(request.param, plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


@pytest.fixture
def certificates_unwired():
    """Empty the certificate gate after the app has wired it; put its checks back afterwards."""
    saved = list(hooks.CHECKS["certificates"])
    assert saved, "create_app() wired the certificate gate"
    hooks.CHECKS["certificates"].clear()
    yield
    hooks.CHECKS["certificates"][:] = saved


@pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
def test_an_application_meets_an_unwired_certificate_gate_and_is_refused_in_chat(world, certificates_unwired):
    answer = world.phone.text("zhuyan", apply_text())
    assert answer["status"] == 200
    world.drain()
    said = [str(m["content"]) for m in world.phone.messages("zhuyan")]
    assert any("安全检查“人员持证检查”未接入，本操作已拒绝，请联系系统管理员" in text for text in said), said
    assert Permit.select().where(Permit.state != "draft").count() == 0
    assert Step.select().where(Step.state == "active").count() == 0
    assert world.phone.messages("zhengji") == []   # no plan card reached the planner
