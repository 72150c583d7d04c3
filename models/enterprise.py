"""The enterprises of a park deployment (园区多企业), each with a database of its own."""
from __future__ import annotations

from peewee import CharField, DateTimeField

from .db import BaseModel, JSONField, utcnow

# Lower-case letters, digits and hyphens: the code travels inside API tokens and URLs as it is.
CODE_PATTERN = r"[a-z0-9][a-z0-9-]{0,31}"


class Enterprise(BaseModel):
    """One enterprise the deployment hosts beside its own; the registry lives in the deployment's database.

    In an enterprise's own database the table stays empty: an enterprise knows nothing of the others.
    """
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    # Credentials may be in the URL, as in DATABASE_URL: the registry is as secret as the settings.
    database_url = CharField(max_length=500)
    created_at = DateTimeField(default=utcnow)
    # The enterprise's own apps, as the settings' WECOM_* / DINGTALK_* name them (corp_id, secret, …).
    # An incoming callback's corp id finds the enterprise; its cards go out through these apps alone.
    # With neither, the enterprise is reached through the deployment's own apps.
    wecom = JSONField(null=True)
    dingtalk = JSONField(null=True)
