"""Who may do the work: the certificate registry and contractors' authorisations."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, Model, TextField

from models.db import JSONField
from models.org import Person


class Certificate(Model):
    """The certificate table as this migration creates it (frozen)."""
    person = ForeignKeyField(Person, on_delete="CASCADE")
    kind = CharField(max_length=32, index=True)
    number = CharField(max_length=64, unique=True)
    issuer = CharField(max_length=100, default="")
    issued_on = DateField(null=True)
    valid_until = DateField(index=True)
    training = TextField(default="")
    revoked_at = DateTimeField(null=True)
    updated_at = DateTimeField()

    class Meta:
        table_name = "certificate"


class Authorisation(Model):
    person = ForeignKeyField(Person, on_delete="CASCADE")
    company = CharField(max_length=100)
    work_types = JSONField(default=list)
    areas = JSONField(default=list)
    valid_from = DateField()
    valid_to = DateField(index=True)
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "authorisation"


TABLES = [Certificate, Authorisation]


def up(migrator) -> None:
    """Create the certificate and authorisation tables."""
    for table in TABLES:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(TABLES)
