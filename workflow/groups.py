"""Broadcasts that suit a group chat: an area's alarm or emergency also goes to its place's groups.

Each place may name a WeCom group robot (its webhook key) and a DingTalk group (the
openConversationId of a group the app's robot is in); the nearest place up the tree that names one
is the group of that platform. The message is an outbox row without a person, written in the
caller's transaction and delivered like any other.
"""
from __future__ import annotations

from models import Outbox
from models.area import Area, lineage

# Group systems and the Area column that names each one's group.
COLUMNS = {"wecom": "wecom_group", "dingtalk": "dingtalk_group"}


def groups_for(area: Area) -> dict[str, str]:
    """Return {group system: group id} of the nearest place at or above area that names one."""
    nodes = {a.id: a for a in Area.select().where(Area.id.in_(lineage(area.id)))}
    found: dict[str, str] = {}
    for node_id in lineage(area.id):
        node = nodes.get(node_id)
        for system, column in COLUMNS.items():
            value = getattr(node, column, None) if node is not None else None
            if value and system not in found:
                found[system] = value
    return found


def post(area_name: str, text: str, *, key: str, permit_no: str | None = None) -> int:
    """Write one outbox row per group of the named place (none when it names no group); return how many groups."""
    area = Area.get_or_none(Area.name == area_name) if area_name else None
    if area is None:
        return 0
    found = groups_for(area)
    for system, group in found.items():
        (Outbox.insert(permit_no=permit_no, person=None, kind="group",
                       payload={"kind": "group", "system": system, "group": group, "area": area.name, "text": text},
                       dedupe_key=f"group:{key}:{system}"[:191])
         .on_conflict_ignore().execute())
    return len(found)
