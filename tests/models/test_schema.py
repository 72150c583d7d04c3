"""Schema creation and numbered migrations on a real database."""
from peewee import CharField
from playhouse.migrate import migrate

from models import Permit, SchemaVersion, database
from models.schema import Migration, current_version, discover, upgrade


def _columns() -> set[str]:
    return {c.name for c in database.get_columns(Permit._meta.table_name)}


def test_a_fresh_database_is_created_and_stamped_with_the_newest_migration(db):
    assert current_version() == discover()[-1].version
    assert upgrade() == [f"schema is up to date at version {discover()[-1].version}"]


def test_an_existing_database_gets_only_the_migrations_it_lacks(db):
    head = discover()[-1].version
    added = Migration(head + 1, f"m{head + 1:04d}_add_permit_note",
                      lambda migrator: migrate(migrator.add_column(
                          Permit._meta.table_name, "note", CharField(null=True))))
    try:
        assert upgrade(discover() + [added]) == [f"applied {added.name}"]
        assert "note" in _columns()
        assert current_version() == head + 1
        assert upgrade(discover() + [added]) == [f"schema is up to date at version {head + 1}"]
    finally:
        if "note" in _columns():
            migrate(_migrator_for_cleanup().drop_column(Permit._meta.table_name, "note"))
        SchemaVersion.delete().where(SchemaVersion.version > head).execute()


def _migrator_for_cleanup():
    from models.schema import _migrator
    return _migrator()


def _back_to_version_1() -> None:
    """Undo every migration after the first, as an old deployment's database would look."""
    from models import Alarm, AlarmAck, CardRecord, Conversation, Sensor, SensorBinding
    from models.schema import _migrator
    m = _migrator()
    database.drop_tables([AlarmAck, Alarm, SensorBinding, Sensor, CardRecord, Conversation])
    migrate(m.drop_index("gas_reading", "gas_reading_device_taken_at"),m.drop_index("outbox", "outbox_lease_until"), m.drop_column("outbox", "lease_until"),
            m.drop_index("step", "step_remind_at"), m.drop_index("step", "step_escalate_at"),
            m.drop_index("permit", "permit_retest_remind_at"),
            m.drop_column("step", "remind_at"), m.drop_column("step", "escalate_at"),
            m.drop_column("step", "escalation_level"), m.drop_column("permit", "retest_remind_at"))
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1)


def test_a_version_1_database_is_upgraded_by_every_later_migration(db):
    _back_to_version_1()
    assert current_version() == 1
    assert upgrade() == [f"applied {m.name}" for m in discover()[1:]]
    assert "lease_until" in {c.name for c in database.get_columns("outbox")}
    assert {"remind_at", "escalate_at", "escalation_level"} <= {c.name for c in database.get_columns("step")}
    assert database.table_exists("card_record") and database.table_exists("conversation")
    assert all(database.table_exists(t) for t in ("sensor", "sensor_binding", "alarm", "alarm_ack"))
    assert "gas_reading_device_taken_at" in {i.name for i in database.get_indexes("gas_reading")}
    assert current_version() == discover()[-1].version
