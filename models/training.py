"""Training and quizzes (培训考试): courses, their question banks, and every attempt at a quiz."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .certificate import Certificate
from .db import BaseModel, JSONField, utcnow
from .org import Person

SINGLE, MULTIPLE, TRUE_FALSE = "单选", "多选", "判断"
QUESTION_KINDS = (SINGLE, MULTIPLE, TRUE_FALSE)
TRUE_FALSE_OPTIONS = ("正确", "错误")
# A course's audience may name this besides the org's roles: whoever holds a current temporary authorisation.
CONTRACTORS = "承包商"
# An attempt is open while questions are being asked; it ends passed or failed, never reopened.
OPEN, PASSED, FAILED = "open", "passed", "failed"
STATE_NAMES = {OPEN: "答题中", PASSED: "合格", FAILED: "不合格"}


class Course(BaseModel):
    code = CharField(max_length=32, unique=True)       # the sheet's 课程编号: a reload updates in place
    title = CharField(max_length=100)
    body = TextField()
    images = JSONField(default=list)                   # image links or file names shown under the text
    work_types = JSONField(default=list)               # template codes, or [] for every type
    roles = JSONField(default=list)                    # roles it is open to, or [] for everyone
    pass_mark = IntegerField()                         # percent of the questions answered right
    max_attempts = IntegerField()
    grants = CharField(max_length=32, default="")      # the certificate kind a pass writes, "" for none
    valid_days = IntegerField(default=365)
    updated_at = DateTimeField(default=utcnow)


class Question(BaseModel):
    course = ForeignKeyField(Course, backref="questions", on_delete="CASCADE")
    seq = IntegerField()                               # the order asked, from the sheet's 序号
    kind = CharField(max_length=4)
    stem = TextField()
    options = JSONField(default=list)
    answer = JSONField(default=list)                   # indexes into options, ascending

    class Meta:
        indexes = ((("course", "seq"), True),)


class QuizAttempt(BaseModel):
    person = ForeignKeyField(Person, backref="quiz_attempts", on_delete="CASCADE")
    course = ForeignKeyField(Course, backref="attempts", on_delete="CASCADE")
    number = IntegerField()                            # the person's 1st, 2nd … attempt at this course
    state = CharField(max_length=8, default=OPEN, index=True)
    asked = IntegerField(default=0)                    # index of the question on the person's card now
    # One entry per question answered, in order: {"seq", "chosen": [indexes], "right": bool}.
    answers = JSONField(default=list)
    score = IntegerField(null=True)                    # percent, once finished
    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    certificate = ForeignKeyField(Certificate, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("person", "course", "number"), True),)
