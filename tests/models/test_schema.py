"""Schema creation and numbered migrations on a real database."""
from peewee import CharField
from playhouse.migrate import SqliteMigrator, migrate

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


CHECKIN_SITE_COLUMNS = ("kind", "role", "latitude", "longitude", "accuracy")
CHANGE_ROUTE_COLUMNS = ("route", "stage", "decisions")


def _back_to_version_1() -> None:
    """Undo every migration after the first, as an old deployment's database would look."""
    from models import (Alarm, AlarmAck, AnonymousReport, Area, AuditDraw, Authorisation, CardRecord, Certificate,
                        Conversation, Emergency, FaceCheck, FaceEnrolment, Finding, FindingPhoto, Gateway, Handover,
                        InboxEvent, IsolationLink, IsolationPoint, NameChoice, PermitAudit, ReadingRollup,
                        RegistryVersion, Sensor, SensorBinding)
    from models.schema import _migrator
    m = _migrator()
    # SQLite drops a foreign-key column only by rebuilding the table (peewee's legacy path).
    legacy = {"legacy": True} if isinstance(m, SqliteMigrator) else {}
    # Newest first: m0030's registry, m0028's and m0027's tables (keys to person and certificate) and
    # m0026's (keys to area and finding), all dropped further down.
    from models.enterprise import Enterprise
    from models.inspection import Inspection, InspectionPlan
    from models.tool import Tool, ToolLoan
    from models.training import Course, Question, QuizAttempt
    from models.meeting import Meeting, MeetingAttendee, MeetingPermit
    database.drop_tables([MeetingAttendee, MeetingPermit, Meeting])   # m0032's (keys to permit and person)
    database.drop_tables([Enterprise, ToolLoan, Tool, QuizAttempt, Question, Course, Inspection, InspectionPlan])
    from models.area import AreaVisit
    database.drop_tables([AreaVisit])   # m0031's (keys to area and person)
    migrate(m.drop_column("gas_reading", "others"), m.drop_column("reading_rollup", "others"))   # m0035's
    # m0019's columns, before the tables that hold them go.
    migrate(*(m.drop_column("change_request", column) for column in CHANGE_ROUTE_COLUMNS))
    migrate(m.drop_column("sensor", "set_points"), m.drop_column("permit", "site_code_round"))
    from models.api import ApiToken, IdempotentRequest, Webhook
    from models.knowledge import KnowledgeEntry
    database.drop_tables([KnowledgeEntry, Webhook, IdempotentRequest, ApiToken])
    database.drop_tables([InboxEvent])
    migrate(m.drop_column("area", "wecom_group"), m.drop_column("area", "dingtalk_group"),
            m.add_not_null("outbox", "person_id"))
    database.drop_tables([PermitAudit, AuditDraw, AnonymousReport, FindingPhoto, Finding])
    migrate(m.drop_index("permit", "permit_rectify_chase_at"), m.drop_column("permit", "rectify_chase_at"),
            m.drop_column("permit", "rectify_escalations"))
    database.drop_tables([Emergency, Handover, IsolationLink, IsolationPoint])
    migrate(m.drop_column("permit", "area_id", **legacy), m.drop_column("permit", "coordinator_id", **legacy))
    database.drop_tables([Area])
    database.drop_tables([ReadingRollup, RegistryVersion])
    database.drop_tables([FaceCheck, FaceEnrolment, Authorisation, Certificate, AlarmAck, Alarm, SensorBinding, Sensor,
                          Gateway, CardRecord, Conversation])
    migrate(*(m.drop_column("check_in", column) for column in CHECKIN_SITE_COLUMNS))
    migrate(m.drop_column("audit_event", "mac"))
    database.drop_tables([NameChoice])
    migrate(m.drop_column("person", "platform"))
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
    assert set(CHECKIN_SITE_COLUMNS) <= {c.name for c in database.get_columns("check_in")}
    assert all(database.table_exists(t) for t in ("certificate", "authorisation", "face_enrolment", "face_check"))
    assert all(database.table_exists(t) for t in ("area", "emergency", "gateway", "reading_rollup",
                                                   "isolation_point", "isolation_link", "handover", "inbox_event"))
    assert "gateway_id" in {c.name for c in database.get_columns("sensor")}
    assert {"area_id", "coordinator_id"} <= {c.name for c in database.get_columns("permit")}
    assert "mac" in {c.name for c in database.get_columns("audit_event")}
    assert "platform" in {c.name for c in database.get_columns("person")}
    assert database.table_exists("name_choice")
    assert set(CHANGE_ROUTE_COLUMNS) <= {c.name for c in database.get_columns("change_request")}
    assert "set_points" in {c.name for c in database.get_columns("sensor")}
    assert "site_code_round" in _columns()
    assert all(database.table_exists(t) for t in ("finding", "finding_photo", "anonymous_report",
                                                   "audit_draw", "permit_audit"))
    assert {"rectify_chase_at", "rectify_escalations"} <= {c.name for c in database.get_columns("permit")}
    assert all(database.table_exists(t) for t in ("course", "question", "quiz_attempt"))
    assert database.table_exists("tool") and database.table_exists("tool_loan")
    assert all(database.table_exists(t) for t in ("meeting", "meeting_permit", "meeting_attendee"))
    assert "others" in {c.name for c in database.get_columns("gas_reading")}
    assert "others" in {c.name for c in database.get_columns("reading_rollup")}
    assert current_version() == discover()[-1].version


def test_check_ins_from_before_the_scan_keep_counting_as_check_ins(db):
    """A version-5 row (a check-in of someone on the permit) reads back as kind "in" after m0006."""
    from models.schema import _migrator
    migrate(*(_migrator().drop_column("check_in", column) for column in CHECKIN_SITE_COLUMNS))
    _old_check_in_row()
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=5)
    try:   # m0006 alone: the later migrations' tables are here already
        assert upgrade([m for m in discover() if m.version <= 6]) == ["applied m0006_checkin_site"]
    finally:
        SchemaVersion.delete().execute()
        SchemaVersion.create(version=discover()[-1].version)
    from models import CheckIn
    row = CheckIn.get()
    assert (row.kind, row.role, row.latitude) == ("in", "", None)


def _old_check_in_row() -> None:
    """Insert one permit and one check-in the way a version-5 schema holds them."""
    from datetime import datetime
    from models import Department, Person
    unit = Department.create(code="U1", name="一车间", kind="基层单位")
    person = Person.create(name="吴海", wecom_userid="wuhai", department=unit)
    at = datetime(2026, 11, 24, 0, 0)
    permit = Permit.create(no="DH-20261124-0001", work_type="hot_work", state="in_approval", unit=unit,
                           applicant=person, location="罐区", content="焊接", planned_start=at,
                           planned_end=at, attributes={})
    database.execute_sql("INSERT INTO check_in (permit_id, person_id, at, source) VALUES (%s, %s, %s, %s)"
                         .replace("%s", database.param), (permit.id, person.id, at, "scan"))
