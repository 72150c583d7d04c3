"""Findings and emergencies through /api/v1: read with filters and pages, and a finding reported by a system
under the same rules as 隐患 in chat, once however often it is sent, audited under the token's name."""
from __future__ import annotations

import pytest

from emergency import stop
from hazards import findings
from models import AuditEvent, Finding, Outbox, find_person
from models.api import IdempotentRequest
from tests.handlers.api.test_open_api import api, bearer, reader, writer  # noqa: F401 - fixtures shared

REPORT = {"place": "3#罐区", "description": "东侧消防通道被杂物堵塞", "found_by": "chuwei", "category": "消防"}


def books() -> tuple:
    return Finding.select().count(), AuditEvent.select().count(), Outbox.select().count()


def told(account: str) -> list[str]:
    return [r.payload["text"] for r in Outbox.select().where(Outbox.person == find_person(account))]


def test_a_finding_posted_is_the_chats_finding_told_to_the_area_officer_and_audited_under_the_token(api, writer):
    answer = api.post("/api/v1/findings", headers={**writer, "Idempotency-Key": "eam-1"}, json=REPORT)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    made = Finding.get(Finding.no == body["no"])
    assert (made.area.name, made.found_by.name, made.state, made.category) == ("3#罐区", "褚卫", "found", "消防")
    assert (body["state_name"], body["found_by"], body["photos"]) == ("待指派", made.found_by.label(), [])
    assert body["found_at"].endswith("+08:00")
    assert any(made.no in t and "请指派整改" in t for t in told("sunli"))   # the area's safety officer
    event = AuditEvent.get(AuditEvent.action == "hazard_found")
    assert event.actor == "api:人事系统" and event.data["by"] == made.found_by.label()
    # The inspector found it, so the chat's flow goes on from here as if they had reported it in chat.
    findings.assign(made.no, "jianghan", made.found_at.replace(year=made.found_at.year + 1), by=find_person("sunli"))
    assert Finding.get_by_id(made.id).responsible.name == "蒋焊"


def test_a_replayed_finding_answers_the_first_result_and_is_recorded_once(api, writer):
    headers = {**writer, "Idempotency-Key": "eam-2"}
    first = api.post("/api/v1/findings", headers=headers, json=REPORT)
    after_first = books()
    again = api.post("/api/v1/findings", headers=headers, json=REPORT)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json() and books() == after_first


@pytest.mark.parametrize("change, field, words", [
    ({"place": "火星基地"}, "place", "不在本厂区域表中"),
    ({"place": "3#罐区 东侧"}, "place", "不含空格"),
    ({"description": "   "}, "description", "不能为空"),
    ({"found_by": "不存在的人"}, "found_by", "找不到人员"),
    ({"grade": "特大"}, "grade", "一般 / 重大"),
    ({"blocks_permits": True}, "blocks_permits", "只有重大隐患可以停止"),
    ({"colour": "red"}, "colour", "未知字段"),
])
def test_a_bad_finding_is_a_422_naming_the_field_in_chinese_and_stores_nothing(api, writer, change, field, words):
    before = books()
    answer = api.post("/api/v1/findings", headers={**writer, "Idempotency-Key": f"bad-{field}"},
                      json={**REPORT, **change})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["field"] == field and words in answer.get_json()["message"]
    assert books() == before and IdempotentRequest.select().count() == 0


def test_a_read_token_cannot_report_a_finding(api, reader):
    answer = api.post("/api/v1/findings", headers={**reader, "Idempotency-Key": "r-1"}, json=REPORT)
    assert answer.status_code == 403 and Finding.select().count() == 0


def test_findings_are_listed_by_filter_and_page_and_read_one_by_number(api, reader):
    chuwei = find_person("chuwei")
    made = [findings.report(f"3#罐区 隐患{n}", by=chuwei) for n in range(3)]
    major = findings.report("常减压装置 法兰泄漏", by=chuwei, options=findings.Options(grade="重大"))
    findings.add_photo(major.no, by=chuwei, data=b"as found")
    first = api.get("/api/v1/findings?limit=2", headers=reader).get_json()
    second = api.get(f"/api/v1/findings?limit=2&cursor={first['next_cursor']}", headers=reader).get_json()
    assert [f["no"] for f in first["items"] + second["items"]] == [f.no for f in made + [major]]
    assert second["next_cursor"] is None
    by_grade = api.get("/api/v1/findings?grade=重大", headers=reader).get_json()["items"]
    assert [f["no"] for f in by_grade] == [major.no]
    in_area = api.get("/api/v1/findings?area=3%23罐区&open=true", headers=reader).get_json()["items"]
    assert [f["no"] for f in in_area] == [f.no for f in made]
    assert api.get("/api/v1/findings?open=false", headers=reader).get_json()["items"] == []
    one = api.get(f"/api/v1/findings/{major.no.lower()}", headers=reader).get_json()
    assert (one["grade"], [p["stage"] for p in one["photos"]]) == ("重大", ["发现"])
    missing = api.get("/api/v1/findings/YH-19990101-0001", headers=reader)
    assert missing.status_code == 404 and missing.get_json()["message"] == "没有编号为 YH-19990101-0001 的隐患"
    assert api.get("/api/v1/findings?state=melted", headers=reader).get_json()["field"] == "state"


def test_emergencies_are_listed_open_or_closed_and_read_one_by_id(api, reader):
    sunli = find_person("sunli")
    drill = stop.raise_emergency("3#罐区 演练：东侧法兰泄漏", by=sunli, drill=True).emergency
    listed = api.get("/api/v1/emergencies?open=true", headers=reader).get_json()["items"]
    assert [(e["id"], e["area"], e["drill"], e["closed_at"]) for e in listed] == [(drill.id, "3#罐区", True, None)]
    stop.close("3#罐区 演练结束，现场检测合格", by=sunli)
    assert api.get("/api/v1/emergencies?open=true", headers=reader).get_json()["items"] == []
    one = api.get(f"/api/v1/emergencies/{drill.id}", headers=reader).get_json()
    assert one["handling"] == "演练结束，现场检测合格" and one["closed_by"] == sunli.label()
    assert one["raised_at"].endswith("+08:00") and one["alarm"] == drill.alarm_id
    assert api.get("/api/v1/emergencies?drill=false", headers=reader).get_json()["items"] == []
    assert api.get(f"/api/v1/emergencies/{drill.id + 1}", headers=reader).status_code == 404
