"""Training and quizzes: courses, questions and quiz attempts."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField

from models.db import JSONField


class Person(Model):
    class Meta:
        table_name = "person"


class Certificate(Model):
    class Meta:
        table_name = "certificate"


class Course(Model):
    """The course table as this migration creates it (frozen)."""
    code = CharField(max_length=32, unique=True)
    title = CharField(max_length=100)
    body = TextField()
    images = JSONField(default=list)
    work_types = JSONField(default=list)
    roles = JSONField(default=list)
    pass_mark = IntegerField()
    max_attempts = IntegerField()
    grants = CharField(max_length=32, default="")
    valid_days = IntegerField(default=365)
    updated_at = DateTimeField()

    class Meta:
        table_name = "course"


class Question(Model):
    course = ForeignKeyField(Course, on_delete="CASCADE")
    seq = IntegerField()
    kind = CharField(max_length=4)
    stem = TextField()
    options = JSONField(default=list)
    answer = JSONField(default=list)

    class Meta:
        table_name = "question"
        indexes = ((("course", "seq"), True),)


class QuizAttempt(Model):
    person = ForeignKeyField(Person, on_delete="CASCADE")
    course = ForeignKeyField(Course, on_delete="CASCADE")
    number = IntegerField()
    state = CharField(max_length=8, default="open", index=True)
    asked = IntegerField(default=0)
    answers = JSONField(default=list)
    score = IntegerField(null=True)
    started_at = DateTimeField(index=True)
    finished_at = DateTimeField(null=True)
    certificate = ForeignKeyField(Certificate, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "quiz_attempt"
        indexes = ((("person", "course", "number"), True),)


def up(migrator) -> None:
    """Create the course, question and quiz_attempt tables."""
    tables = [Course, Question, QuizAttempt]
    for table in tables:
        table._meta.set_database(migrator.database)
    migrator.database.create_tables(tables)
