"""The change card's button keys and what the card shows, before and after the change is decided."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cards import actions
from cards.change import ask_card, settled_card
from workflow import request_change
from workflow.changes import decide
from tests.workflow.test_transitions import asked, change_of, load, permit_in, who


def test_change_keys_round_trip_and_refuse_anything_else():
    assert actions.parse_change(actions.change_key("approve", 7)) == ("approve", 7)
    assert actions.parse_change(actions.change_key("refuse", 12)) == ("refuse", 12)
    assert actions.parse_change("handover.confirm:3") is None
    for bad in ("change.approve:0", "change.approve:x", "change.delete:3", "change.refuse:3:4"):
        with pytest.raises(ValueError):
            actions.parse_change(bad)
    for ask, number in (("delete", 1), ("approve", 0), ("approve", True)):
        with pytest.raises(ValueError):
            actions.change_key(ask, number)


def test_the_card_asks_then_settles(plant):
    no, clock = permit_in("in_progress", hours=4)
    end = load(no).planned_end
    request_change(no, by=who("zhuyan"), changes={"planned_end": end + timedelta(hours=1)}, reason="焊口返修",
                   now=clock.tick())
    change = change_of(no)
    approver = who(asked(change)[0])
    card = ask_card(change.id, 0, person_id=approver.id, serial=5)
    assert (card.kind, card.title) == ("sign", "作业变更：待您审批")
    assert [b.label for b in card.buttons] == ["同意变更", "不同意"]
    old_end, new_end = card.field("结束时间").split(" → ")
    assert new_end != old_end and len(new_end) == len("11-24 05:00")
    assert card.field("变更理由") == "焊口返修" and "按原内容执行" in card.notice
    decide(change.id, by=approver, approve=False, reason="另行安排", now=clock.tick())
    # An old card asked to be rebuilt (a resend after a crash) shows the outcome, with no buttons.
    again = ask_card(change.id, 0, person_id=approver.id, serial=5)
    assert (again.kind, again.buttons) == ("outcome", ())
    done = settled_card(change.id, 0, task_id="t")
    assert done.notice == f"{approver.name}不同意。变更未获同意，作业票按原内容继续有效"
