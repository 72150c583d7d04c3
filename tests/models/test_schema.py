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


def test_m0002_upgrades_a_version_1_database(db):
    from models import CardRecord
    from models.schema import _migrator
    # Take the database back to what version 1 had, then upgrade it as a deployment would.
    database.drop_tables([CardRecord])
    migrate(_migrator().drop_index("outbox", "outbox_lease_until"),
            _migrator().drop_column("outbox", "lease_until"))
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1)
    assert current_version() == 1
    assert upgrade()[0] == "applied m0002_card_delivery"
    assert "lease_until" in {c.name for c in database.get_columns("outbox")}
    assert database.table_exists("card_record") and current_version() == discover()[-1].version
