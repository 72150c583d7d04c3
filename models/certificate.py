"""Who may do the work: certificates people hold (证书 sheet), contractors' authorisations (承包商 sheet)."""
from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField

from .db import BaseModel, JSONField, utcnow
from .org import Person


class Certificate(BaseModel):
    person = ForeignKeyField(Person, backref="certificates", on_delete="CASCADE")
    kind = CharField(max_length=32, index=True)
    # The number printed on the certificate: the key a re-import matches on.
    number = CharField(max_length=64, unique=True)
    issuer = CharField(max_length=100, default="")
    issued_on = DateField(null=True)
    valid_until = DateField(index=True)
    training = TextField(default="")
    # Set when a re-import leaves the certificate out: it stops counting but its history stays.
    revoked_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)


class Authorisation(BaseModel):
    """A contractor's temporary authorisation: which work types and areas, from one day to another.

    Whoever has ever had one is a contractor: one no longer in the sheet is revoked, not deleted, so
    that dropping the row cannot make a contractor an unrestricted employee.
    """
    person = ForeignKeyField(Person, backref="authorisations", on_delete="CASCADE")
    company = CharField(max_length=100)
    work_types = JSONField(default=list)   # template codes, or ["*"] for every type
    areas = JSONField(default=list)        # area names a permit's location must name, or ["*"]
    valid_from = DateField()
    valid_to = DateField(index=True)
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
