"""The plant's departments and people, as loaded from the org workbook."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from .db import BaseModel, utcnow

# Department kinds, as the org workbook names them.
UNIT = "基层单位"
SPECIALIST = "专业部门"
SAFETY = "安全管理部门"
LEADERSHIP = "厂领导"
DEPARTMENT_KINDS = (UNIT, SPECIALIST, SAFETY, LEADERSHIP)

# Roles a person can hold in the org workbook.
ROLES = (
    "计划员", "作业评估人", "交底人", "气体检测人", "监护人", "作业人", "基层单位负责人",
    "专业部门负责人", "安全管理部门负责人", "主管领导", "配送电单位负责人", "验收人", "安全员",
    "系统管理员", "应急救援人员",
)


class Department(BaseModel):
    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    kind = CharField(max_length=16)

    def ancestors(self) -> list["Department"]:
        """Return this department and its parents, nearest first."""
        chain, node, seen = [], self, set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            chain.append(node)
            node = node.parent
        return chain


class Person(BaseModel):
    name = CharField(max_length=50)
    wecom_userid = CharField(max_length=64, null=True, unique=True)
    dingtalk_userid = CharField(max_length=64, null=True, unique=True)
    mobile = CharField(max_length=20, null=True)
    department = ForeignKeyField(Department, backref="people", on_delete="RESTRICT")
    # Someone dropped from the workbook keeps their history but gets no new work.
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    # The app this person last wrote or clicked in, when they have more than one; their cards follow it.
    platform = CharField(max_length=16, null=True)

    @property
    def account(self) -> str:
        return self.wecom_userid or self.dingtalk_userid or self.mobile or f"#{self.id}"

    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def label(self) -> str:
        return f"{self.name}({self.account})"


class PersonRole(BaseModel):
    person = ForeignKeyField(Person, backref="roles", on_delete="CASCADE")
    role = CharField(max_length=16)

    class Meta:
        indexes = ((("person", "role"), True),)


def find_person(account: str) -> Person | None:
    """Find a person by WeCom account, DingTalk account or mobile number."""
    account = (account or "").strip()
    if not account:
        return None
    return (Person.select()
            .where((Person.wecom_userid == account) | (Person.dingtalk_userid == account)
                   | (Person.mobile == account))
            .first())
