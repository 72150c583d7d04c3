"""Cards rendered as the DingTalk card template's variables (docs/dingtalk.md), held to its string rules."""
import json

import pytest

from bot.delivery import PERMIT_CARD_KINDS
from cards import dingtalk
from cards.build import card_for
from cards.card import DANGER, Button, Card, Field
from cards.export import finished_card, progress_card
from models import Outbox, utcnow
from tests.conftest import MORNING
from workflow.walkthrough import run_to_close

LISTS = ("fields", "buttons", "checklist", "links")
EXPORT = "0123456789abcdef"


def check_params(values: dict) -> dict:
    """Fail unless every value is a string and the list variables hold JSON lists; return them decoded."""
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()), values
    decoded = dict(values)
    for name in LISTS:
        decoded[name] = json.loads(values[name])
        assert isinstance(decoded[name], list)
    assert values["status"] in ("open", "settled")
    assert values["urgent"] in ("true", "false")
    assert values["title"]
    return decoded


def test_every_card_of_a_whole_permit_renders_with_the_same_content_and_buttons_as_on_wecom(plant):
    permit = run_to_close("confined_space", start=MORNING)
    # The permit's own cards (its isolation point's verify and release cards are built elsewhere).
    rows = list(Outbox.select().where((Outbox.permit_no == permit.no) & Outbox.kind.in_(PERMIT_CARD_KINDS))
                .order_by(Outbox.id))
    assert rows
    for row in rows:
        p = row.payload
        card = card_for(permit.no, person_id=p["person_id"], kind=p["kind"], step=p["step"], text=p["text"],
                        serial=row.id)
        rendered = dingtalk.render(card)
        assert rendered["outTrackId"] == card.task_id
        values = check_params(rendered["cardParamMap"])
        assert values["kind"] == card.kind and values["title"] == card.title
        assert [(f["name"], f["value"]) for f in values["fields"]] == [(f.name, f.value) for f in card.fields]
        assert [b["id"] for b in values["buttons"]] == [b.key for b in card.buttons]
        assert values["status"] == ("open" if card.buttons else "settled")


def test_a_sign_card_and_a_checklist_card_carry_their_buttons_and_items(plant):
    sign = Card(kind="sign", task_id="DH-20261124-0001-plan-r1-p3", title="作业计划：待您确认", subtitle="动火作业",
                fields=(Field("编号", "DH-20261124-0001"),),
                buttons=(Button("同意", "permit.approve:DH-20261124-0001:plan:1"),
                         Button("驳回", "permit.reject:DH-20261124-0001:plan:1", DANGER)))
    values = check_params(dingtalk.params(sign))
    assert values["buttons"] == [{"id": "permit.approve:DH-20261124-0001:plan:1", "text": "同意", "style": "primary"},
                                 {"id": "permit.reject:DH-20261124-0001:plan:1", "text": "驳回", "style": "danger"}]
    checklist = Card(kind="checklist", task_id="t1", title="安全措施确认", subtitle="", fields=(),
                     buttons=(Button("提交", "permit.submit:DH-20261124-0001:measures:1"),),
                     checklist=("切断物料", "隔离盲板"), checklist_key="measures")
    values = check_params(dingtalk.params(checklist))
    assert [item["text"] for item in values["checklist"]] == ["切断物料", "隔离盲板"]
    assert values["checklist_key"] == "measures" and values["status"] == "open"


def test_stop_and_alarm_cards_are_urgent(plant):
    stop = Card(kind="stop", task_id="t2", title="立即停止作业", subtitle="", fields=(), buttons=(), url="http://x/b")
    values = check_params(dingtalk.params(stop))
    assert values["urgent"] == "true" and values["emphasis"] == "立即停止作业"
    assert values["status"] == "settled"


def test_an_export_card_keeps_its_button_while_under_way_and_loses_it_when_done(plant):
    under_way = dingtalk.params(progress_card(EXPORT, person_id=1, title="作业票台账", percent=40, at=utcnow()))
    done = dingtalk.render_update(finished_card(EXPORT, person_id=1, title="作业票台账", text="已生成", url="http://x/d"))
    assert check_params(under_way)["status"] == "open"
    assert check_params(done)["status"] == "settled" and json.loads(done["buttons"]) == []


def test_the_renderer_refuses_what_the_template_cannot_hold():
    many = tuple(Button(f"b{i}", f"k{i}") for i in range(7))
    with pytest.raises(ValueError, match="at most 6"):
        dingtalk.params(Card(kind="sign", task_id="t", title="x", subtitle="", fields=(), buttons=many))
    with pytest.raises(ValueError, match="outTrackId"):
        dingtalk.render(Card(kind="notice", task_id="有中文", title="x", subtitle="", fields=(), buttons=()))
    same = (Button("a", "k"), Button("b", "k"))
    with pytest.raises(ValueError, match="unique"):
        dingtalk.params(Card(kind="sign", task_id="t", title="x", subtitle="", fields=(), buttons=same))
