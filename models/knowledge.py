"""The safety knowledge base (安全知识库): rules, accident cases and lessons, per work type."""
from __future__ import annotations

from peewee import CharField, DateTimeField, TextField

from .db import BaseModel, JSONField, utcnow

KINDS = ("规章制度", "事故案例", "经验教训", "操作要点")


class KnowledgeEntry(BaseModel):
    key = CharField(max_length=64, unique=True)       # the file's name or the sheet's 编号: a reload updates
    kind = CharField(max_length=8)
    title = CharField(max_length=200)
    body = TextField()
    work_types = JSONField(default=list)              # template codes, or [] for every type
    keywords = JSONField(default=list)
    source = CharField(max_length=200, default="")
    updated_at = DateTimeField(default=utcnow)
