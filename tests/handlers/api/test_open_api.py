"""The open API on the sample plant: tokens, reads, the people write with its idempotency, and errors."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from handlers.api import tokens
from models import AuditEvent, Department, Permit, Person, utcnow
from models.api import ApiToken, IdempotentRequest


@pytest.fixture
def api(plant, redis_conn, monkeypatch):
    """Return a test client of the app on the sample plant, on the run's own Redis."""
    from app import create_app
    from tests.worlds import _redis_url
    monkeypatch.setenv("REDIS_URL", _redis_url(redis_conn))
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    return create_app().test_client()


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def reader(api):
    return bearer(tokens.create("看板", "read"))


@pytest.fixture
def writer(api):
    return bearer(tokens.create("人事系统", "write"))


def make_permit(no: str, *, state: str = "in_progress", location: str = "3#罐区", **extra) -> Permit:
    applicant = Person.get(Person.wecom_userid == "zhuyan")
    start = extra.pop("planned_start", utcnow() - timedelta(hours=1))
    return Permit.create(no=no, work_type="hot_work", grade="二级", state=state, unit=applicant.department,
                         applicant=applicant, location=location, content="管线焊接", planned_start=start,
                         planned_end=start + timedelta(hours=8), **extra)


def test_the_contract_is_a_valid_openapi_3_1_document(api):
    answer = api.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    spec = answer.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert {"/api/v1/permits", "/api/v1/permits/{no}", "/api/v1/people", "/api/v1/alarms"} <= set(spec["paths"])


def test_a_token_is_shown_once_and_only_its_hash_is_stored(api):
    raw = tokens.create("ERP", "read")
    stored = ApiToken.get(ApiToken.name == "ERP")
    assert raw.startswith(tokens.PREFIX) and stored.digest == tokens.digest(raw)
    assert raw not in json.dumps(list(ApiToken.select().dicts()), default=str)
    assert AuditEvent.select().where(AuditEvent.action == "api_token_created").count() == 1


def test_no_token_a_wrong_one_or_a_revoked_one_is_refused_with_401(api, reader):
    assert api.get("/api/v1/permits").status_code == 401
    assert api.get("/api/v1/permits", headers=bearer("ptw_forged")).status_code == 401
    assert api.get("/api/v1/permits", headers=reader).status_code == 200
    tokens.revoke("看板")
    answer = api.get("/api/v1/permits", headers=reader)
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "unauthorized" and "吊销" in answer.get_json()["message"]


def test_a_read_token_cannot_write(api, reader):
    answer = api.post("/api/v1/people", headers={**reader, "Idempotency-Key": "k1"},
                      json={"name": "新人", "unit": "SC01", "mobile": "13900000001"})
    assert answer.status_code == 403
    assert "只有读取权限" in answer.get_json()["message"]


def test_permits_are_listed_by_filter_with_plant_local_times_and_a_stable_cursor(api, reader):
    for n in range(5):
        make_permit(f"DH-20261124-000{n + 1}")
    make_permit("DH-20261124-0009", state="closed", location="1#罐区")
    first = api.get("/api/v1/permits?state=in_progress&limit=2", headers=reader).get_json()
    assert [p["no"] for p in first["items"]] == ["DH-20261124-0001", "DH-20261124-0002"]
    assert first["items"][0]["planned_start"].endswith("+08:00")
    second = api.get(f"/api/v1/permits?state=in_progress&limit=2&cursor={first['next_cursor']}",
                     headers=reader).get_json()
    assert [p["no"] for p in second["items"]] == ["DH-20261124-0003", "DH-20261124-0004"]
    closed = api.get("/api/v1/permits?state=closed", headers=reader).get_json()
    assert [p["no"] for p in closed["items"]] == ["DH-20261124-0009"] and closed["next_cursor"] is None


def test_an_oversized_page_is_clamped_and_a_bad_cursor_is_a_422_naming_it(api, reader):
    make_permit("DH-20261124-0001")
    assert len(api.get("/api/v1/permits?limit=100000", headers=reader).get_json()["items"]) == 1
    answer = api.get("/api/v1/permits?cursor=!!!", headers=reader)
    assert answer.status_code == 422 and answer.get_json()["field"] == "cursor"


def test_an_unknown_permit_is_a_404_in_chinese(api, reader):
    answer = api.get("/api/v1/permits/DH-19990101-0001", headers=reader)
    assert answer.status_code == 404
    assert answer.get_json() == {"code": "not_found", "message": "没有编号为 DH-19990101-0001 的作业票",
                                 "field": None}


def test_hr_creates_then_updates_a_person_by_the_workbooks_rules(api, writer):
    unit = Department.select().first().code
    body = {"name": "新人", "unit": unit, "wecom_userid": "xinren", "mobile": "13900000001", "roles": ["作业人"]}
    created = api.post("/api/v1/people", headers={**writer, "Idempotency-Key": "hr-1"}, json=body)
    assert created.status_code == 201 and created.get_json()["created"] is True
    updated = api.post("/api/v1/people", headers={**writer, "Idempotency-Key": "hr-2"},
                       json={**body, "name": "新人改名"})
    assert updated.status_code == 200 and updated.get_json()["person"]["name"] == "新人改名"
    assert Person.get(Person.wecom_userid == "xinren").name == "新人改名"
    event = AuditEvent.select().where(AuditEvent.action == "person_upserted").order_by(AuditEvent.seq).first()
    assert event.actor == "api:人事系统"


def test_a_replayed_post_returns_the_first_result_and_writes_nothing_twice(api, writer):
    unit = Department.select().first().code
    headers = {**writer, "Idempotency-Key": "same"}
    body = {"name": "重放", "unit": unit, "wecom_userid": "chongfang"}
    first = api.post("/api/v1/people", headers=headers, json=body)
    people, events = Person.select().count(), AuditEvent.select().count()
    again = api.post("/api/v1/people", headers=headers, json=body)
    assert again.status_code == first.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert (Person.select().count(), AuditEvent.select().count()) == (people, events)
    other = api.post("/api/v1/people", headers=headers, json={**body, "name": "别的"})
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"


@pytest.mark.parametrize("body, field", [
    ({"name": "甲", "unit": "SC01", "colour": "red"}, "colour"),
    ({"unit": "SC01", "mobile": "13900000002"}, "name"),
    ({"name": "甲", "unit": "NOPE", "mobile": "13900000002"}, "unit"),
    ({"name": "甲", "unit": "SC01"}, None),
    ({"name": "甲", "unit": "SC01", "mobile": "12345"}, "mobile"),
    ({"name": "甲", "unit": "SC01", "mobile": "13900000002", "roles": ["国王"]}, "roles.0"),
])
def test_a_bad_person_is_a_422_that_names_the_field_and_writes_nothing(api, writer, body, field):
    if body.get("unit") == "SC01":
        body["unit"] = Department.select().first().code
    people, events = Person.select().count(), AuditEvent.select().count()
    answer = api.post("/api/v1/people", headers={**writer, "Idempotency-Key": f"bad-{field}"}, json=body)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()
    assert error["code"] == "invalid" and error["message"]
    if field:
        assert error["field"] == field
    else:
        assert "至少填写一项" in error["message"]
    assert (Person.select().count(), AuditEvent.select().count()) == (people, events)
    assert IdempotentRequest.select().count() == 0


def test_a_write_without_an_idempotency_key_is_refused(api, writer):
    answer = api.post("/api/v1/people", headers=writer, json={"name": "甲", "unit": "x"})
    assert answer.status_code == 422 and answer.get_json()["field"] == "Idempotency-Key"


def test_a_token_over_its_rate_gets_429_with_retry_after(plant, redis_conn, monkeypatch):
    from app import create_app
    from tests.worlds import _redis_url
    monkeypatch.setenv("REDIS_URL", _redis_url(redis_conn))
    monkeypatch.setenv("API_RATE_PER_MINUTE", "3")
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    client = create_app().test_client()
    headers = bearer(tokens.create("爬虫", "read"))
    statuses = [client.get("/api/v1/units", headers=headers).status_code for _ in range(4)]
    # Four requests may straddle a minute's boundary, which resets the window: then all four pass.
    assert statuses in ([200, 200, 200, 429], [200, 200, 200, 200])
    if statuses[-1] == 429:
        assert int(client.get("/api/v1/units", headers=headers).headers["Retry-After"]) in range(1, 61)


def test_the_rest_of_the_app_keeps_its_own_error_pages(api):
    answer = api.get("/board/DH-19990101-0001")
    assert answer.status_code in (403, 404) and not answer.is_json


def test_api_token_commands_create_list_and_revoke(api):
    from app import cli
    runner = CliRunner()
    made = runner.invoke(cli, ["api-token", "create", "--name", "EAM", "--scope", "write"])
    assert made.exit_code == 0, made.output
    assert made.output.strip().splitlines()[-1].startswith(tokens.PREFIX)
    assert "EAM\twrite" in runner.invoke(cli, ["api-token", "list"]).output
    assert runner.invoke(cli, ["api-token", "revoke", "EAM"]).exit_code == 0
    again = runner.invoke(cli, ["api-token", "revoke", "EAM"])
    assert again.exit_code != 0 and "已于" in again.output


def test_isolation_points_read_back_with_their_permits(api, reader):
    from models import IsolationLink, IsolationPoint
    permit = make_permit("DH-20261124-0001")
    isolator = Person.get(Person.wecom_userid == "zhuyan")
    point = IsolationPoint.create(tag="V-101", kind="阀门", method="关阀上锁", lock_no="L-7", tag_no="T-7",
                                  unit=isolator.department, isolated_by=isolator)
    IsolationLink.create(point=point, permit=permit, added_by=isolator)
    [item] = api.get("/api/v1/isolations?state=isolated", headers=reader).get_json()["items"]
    assert (item["tag"], item["permits"], item["verified_by"]) == ("V-101", ["DH-20261124-0001"], None)
    assert api.get("/api/v1/isolations?state=released", headers=reader).get_json()["items"] == []
    assert api.get("/api/v1/isolations?state=melted", headers=reader).status_code == 422
