"""Detector gateways, per-minute rollups of pruned readings, and the registry's change counter."""
from peewee import BooleanField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField, Model


class Gateway(Model):
    """The gateway table as this migration creates it (frozen)."""
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    secret = CharField(max_length=64)
    enabled = BooleanField(default=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "gateway"


class ReadingRollup(Model):
    device = CharField(max_length=64)
    minute = DateTimeField()
    count = IntegerField()
    last_at = DateTimeField()
    o2_min, o2_max, o2_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    ex_min, ex_max, ex_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    h2s_min, h2s_max, h2s_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)
    co_min, co_max, co_last = FloatField(null=True), FloatField(null=True), FloatField(null=True)

    class Meta:
        table_name = "reading_rollup"
        indexes = ((("device", "minute"), True),)


class RegistryVersion(Model):
    value = IntegerField(default=0)

    class Meta:
        table_name = "registry_version"


def up(migrator) -> None:
    """Create the gateway, reading_rollup and registry_version tables; link detectors to gateways."""
    from playhouse.migrate import migrate
    tables = [Gateway, ReadingRollup, RegistryVersion]
    for table in tables:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(tables)
    gateway = ForeignKeyField(Gateway, null=True, field=Gateway.id, on_delete="SET NULL")
    migrate(migrator.add_column("sensor", "gateway_id", gateway))
