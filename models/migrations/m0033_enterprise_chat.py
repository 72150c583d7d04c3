"""Each park enterprise may carry its own chat-platform credentials: a WeCom corp, a DingTalk org, or both."""
from peewee import TextField
from playhouse.migrate import migrate


def up(migrator) -> None:
    """Add enterprise.wecom and enterprise.dingtalk (JSON: the settings of that platform's app)."""
    migrate(migrator.add_column("enterprise", "wecom", TextField(null=True)),
            migrator.add_column("enterprise", "dingtalk", TextField(null=True)))
