"""Button keys: built and parsed in one place, round-trip exactly, refuse anything else."""
import pytest

from cards import actions
from cards.actions import Action


@pytest.mark.parametrize("action", actions.ACTIONS)
def test_every_action_round_trips(action):
    text = actions.key(action, "DH-20261124-0001", "approve_unit", 7)
    assert text == f"permit.{action}:DH-20261124-0001:approve_unit:7"
    assert actions.parse(text) == Action(action, "DH-20261124-0001", "approve_unit", 7)


def test_the_documented_example():
    assert actions.key("approve", "DH-20261124-0001", "approve_unit", 7) \
        == "permit.approve:DH-20261124-0001:approve_unit:7"


def test_keys_stay_far_below_wecoms_limit():
    longest = actions.key("confirm", "X" * 32, "s" * 32, 9_999_999_999)
    assert len(longest.encode()) <= actions.MAX_KEY_BYTES


@pytest.mark.parametrize("text", [
    "", " ", ":", ":::", "permit", "permit.approve", "permit.approve:DH-20261124-0001",
    "permit.approve:DH-20261124-0001:approve_unit",
    "permit.approve:DH-20261124-0001:approve_unit:7:extra",
    "permit.approve:DH-20261124-0001:approve_unit:",
    "permit.approve:DH-20261124-0001::7",
    "permit.approve::approve_unit:7",
    "permit.approve:DH-20261124-0001:approve_unit:0",
    "permit.approve:DH-20261124-0001:approve_unit:07",
    "permit.approve:DH-20261124-0001:approve_unit:-1",
    "permit.approve:DH-20261124-0001:approve_unit:7.0",
    "permit.approve:DH-20261124-0001:approve_unit: 7",
    "permit.approve:DH-20261124-0001:approve_unit:99999999999",
    "permit.rectify:DH-20261124-0001:accept:7",
    "permit.sign:DH-20261124-0001:plan:7",
    "permit.:DH-20261124-0001:plan:7",
    "permitapprove:DH-20261124-0001:plan:7",
    "other.approve:DH-20261124-0001:plan:7",
    "PERMIT.approve:DH-20261124-0001:plan:7",
    "permit.approve:DH 20261124:plan:7",
    "permit.approve:DH-２０２６:plan:7",
    "permit.approve:-DH:plan:7",
    "permit.approve:DH-20261124-0001:plan/../x:7",
    "permit.approve:DH-20261124-0001:" + "s" * 33 + ":7",
    "permit.approve:" + "D" * 33 + ":plan:7",
    "permit.approve:DH-20261124-0001:plan:7\n",
    "permit.approve:DH-20261124-0001:plan:" + "1" * 2000,
])
def test_malformed_keys_raise_value_error(text):
    with pytest.raises(ValueError):
        actions.parse(text)


@pytest.mark.parametrize("value", [None, b"permit.approve:DH-1:plan:7", 7, ["permit.approve:DH-1:plan:7"]])
def test_non_strings_raise_value_error(value):
    with pytest.raises(ValueError):
        actions.parse(value)


@pytest.mark.parametrize("args", [
    ("rectify", "DH-20261124-0001", "accept", 1),
    ("approve", "DH:1", "plan", 1),
    ("approve", "", "plan", 1),
    ("approve", "DH-1", "pl:an", 1),
    ("approve", "DH-1", "", 1),
    ("approve", "DH-1", "plan", 0),
    ("approve", "DH-1", "plan", -3),
    ("approve", "DH-1", "plan", "7"),
    ("approve", "DH-1", "plan", True),
])
def test_key_refuses_what_parse_could_not_read_back(args):
    with pytest.raises(ValueError):
        actions.key(*args)


def test_checklist_option_ids_map_back_to_items():
    items = ("作业范围已确认", "风险点已辨识", "灭火器材已配备到位")
    ids = [actions.option_id(i) for i in range(len(items))]
    assert len(set(ids)) == 3 and all(len(i.encode()) <= actions.MAX_OPTION_ID_BYTES for i in ids)
    assert actions.ticked(items, reversed(ids)) == list(items)
    assert actions.ticked(items, [ids[1]]) == ["风险点已辨识"]
    assert actions.ticked(items, []) == []


@pytest.mark.parametrize("bad", ["o0", "o4", "o01", "1", "", "o1 ", None, "x1"])
def test_unknown_option_ids_raise(bad):
    with pytest.raises(ValueError):
        actions.ticked(("a", "b", "c"), ["o1", bad])
