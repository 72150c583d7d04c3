"""Gas detectors, their bindings to permits, and their alarms."""
from peewee import (BooleanField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField,
                    Model)

from models.db import JSONField
from models.org import Department, Person
from models.permit import Permit


class Sensor(Model):
    """The sensor table as this migration creates it (frozen)."""
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    area = CharField(max_length=200)
    kind = CharField(max_length=8)
    gases = JSONField(default=list)
    interval_seconds = IntegerField()
    unit = ForeignKeyField(Department, null=True, on_delete="SET NULL")
    secret = CharField(max_length=64)
    enabled = BooleanField(default=True)
    last_seen_at = DateTimeField(null=True, index=True)
    offline_since = DateTimeField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "sensor"


class SensorBinding(Model):
    sensor = ForeignKeyField(Sensor, on_delete="CASCADE")
    permit = ForeignKeyField(Permit, on_delete="CASCADE")
    bound_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    bound_at = DateTimeField()
    released_at = DateTimeField(null=True, index=True)

    class Meta:
        table_name = "sensor_binding"


class Alarm(Model):
    sensor = ForeignKeyField(Sensor, null=True, on_delete="SET NULL")
    device = CharField(max_length=64, null=True)
    level = CharField(max_length=8)
    gas = CharField(max_length=8, null=True)
    value = FloatField(null=True)
    text = CharField(max_length=500)
    area = CharField(max_length=200, default="")
    permit_nos = JSONField(default=list)
    suspended = JSONField(default=list)
    recipients = JSONField(default=list)
    reading_at = DateTimeField()
    raised_at = DateTimeField(index=True)
    acknowledged_at = DateTimeField(null=True)
    acknowledged_by = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    resend_at = DateTimeField(null=True, index=True)
    rounds = IntegerField(default=1)
    cleared_at = DateTimeField(null=True, index=True)

    class Meta:
        table_name = "alarm"


class AlarmAck(Model):
    alarm = ForeignKeyField(Alarm, on_delete="CASCADE")
    person = ForeignKeyField(Person, on_delete="RESTRICT")
    at = DateTimeField()
    channel = CharField(max_length=16, default="cli")

    class Meta:
        table_name = "alarm_ack"
        indexes = ((("alarm", "person"), True),)


def up(migrator) -> None:
    """Create the sensor, sensorbinding, alarm and alarmack tables; index readings by device."""
    from playhouse.migrate import migrate
    tables = [Sensor, SensorBinding, Alarm, AlarmAck]
    for table in tables:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(tables)
    migrate(migrator.add_index("gas_reading", ("device", "taken_at")))
