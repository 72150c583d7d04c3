"""Delivery bookkeeping: a lease on outbox rows and a record of every card sent."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model
from playhouse.migrate import migrate

from models.audit import Outbox
from models.org import Person


class CardRecord(Model):
    """The card_record table as this migration creates it (frozen: later changes are new migrations)."""
    outbox = ForeignKeyField(Outbox, on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    platform = CharField(max_length=16)
    task_id = CharField(max_length=128, unique=True)
    response_code = CharField(max_length=256, null=True)
    permit_no = CharField(max_length=32, index=True)
    step_key = CharField(max_length=32, null=True)
    round = IntegerField(null=True)
    state = CharField(max_length=12, default="open")
    sent_at = DateTimeField()
    updated_at = DateTimeField(null=True)

    class Meta:
        table_name = "card_record"


def up(migrator) -> None:
    """Add outbox.lease_until and create card_record."""
    migrate(migrator.add_column("outbox", "lease_until", DateTimeField(null=True)),
            migrator.add_index("outbox", ("lease_until",)))
    CardRecord._meta.set_database(migrator.database)
    migrator.database.create_tables([CardRecord])
