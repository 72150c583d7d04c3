"""The schema's version stamp: which migrations a database has had."""
from __future__ import annotations

from peewee import DateTimeField, IntegerField

from .db import BaseModel, utcnow


class SchemaVersion(BaseModel):
    version = IntegerField(unique=True)
    applied_at = DateTimeField(default=utcnow)
