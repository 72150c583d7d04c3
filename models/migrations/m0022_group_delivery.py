"""Group delivery: each place may name its WeCom group robot and its DingTalk group; an outbox row may go to a group.

A message to a group has no person: outbox.person_id becomes nullable, and such a row names its
group in the payload.
"""
from peewee import CharField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add area.wecom_group and area.dingtalk_group; let outbox.person_id be empty."""
    migrate(migrator.add_column("area", "wecom_group", CharField(max_length=128, null=True)),
            migrator.add_column("area", "dingtalk_group", CharField(max_length=128, null=True)),
            migrator.drop_not_null("outbox", "person_id"))
