"""Two enterprises on one deployment: a token belongs to one, its requests run on that enterprise's database,
and nothing of the other is seen, found or counted through the API."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from exports.org_import import load_org
from handlers.api import tokens
from hazards import findings
from models import AuditEvent, Department, Person, database, find_person
from models.db import bound
from park import enterprises
from tests.conftest import SAMPLE_ORG
from tests.handlers.api.test_open_api import api, bearer, make_permit  # noqa: F401 - fixtures shared


@pytest.fixture
def second(api, enterprise_url):
    """Add enterprise yi on a database of its own, with the sample org and one permit of its own."""
    enterprises.add("yi", "乙化工", enterprise_url("yi"))
    make_permit("DH-20261124-0001")                       # the deployment's own enterprise
    with bound(enterprises.database_of("yi")):
        load_org(SAMPLE_ORG)
        make_permit("DH-20261124-0002")
        Person.create(name="乙厂专员", wecom_userid="yionly", department=Department.select().first())
        findings.report("3#罐区 乙厂围堰破损", by=find_person("chuwei"))
    return "yi"


def listed(api, path: str, headers: dict, key: str) -> list:
    answer = api.get(f"/api/v1/{path}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [item[key] for item in answer.get_json()["items"]]


def test_each_enterprises_token_reads_its_own_rows_and_none_of_the_others(api, second):
    home = bearer(tokens.create("本厂看板", "read"))
    yi = bearer(tokens.create("园区安全办", "read", enterprise=second))
    assert listed(api, "permits", yi, "no") == ["DH-20261124-0002"]
    assert listed(api, "permits", home, "no") == ["DH-20261124-0001"]   # right after yi's, on the same thread
    assert "乙厂专员" in listed(api, "people", yi, "name") and "乙厂专员" not in listed(api, "people", home, "name")
    assert len(listed(api, "findings", yi, "no")) == 1 and listed(api, "findings", home, "no") == []
    # Another enterprise's permit is not there at all: 404, never 403, so its existence is not revealed.
    assert api.get("/api/v1/permits/DH-20261124-0001", headers=yi).status_code == 404
    assert api.get("/api/v1/permits/DH-20261124-0002", headers=home).status_code == 404
    assert api.get("/api/v1/permits/DH-20261124-0002", headers=yi).get_json()["no"] == "DH-20261124-0002"
    # Each token was created, and is audited, in its own enterprise's chain.
    assert [e.data["name"] for e in AuditEvent.select().where(AuditEvent.action == "api_token_created")] == ["本厂看板"]
    with bound(enterprises.database_of(second)):
        assert [e.data["name"] for e in AuditEvent.select().where(AuditEvent.action == "api_token_created")] == [
            "园区安全办"]
    assert database.obj is database.home   # no request left its enterprise bound


def test_a_token_that_names_another_enterprise_or_an_unknown_one_is_refused_with_401(api, second):
    yi_raw = tokens.create("园区安全办", "read", enterprise=second)
    home_raw = tokens.create("本厂看板", "read")
    secret = yi_raw.split(".", 1)[1]
    for forged in (f"{tokens.PREFIX}jia.{secret}", f"{tokens.PREFIX}{secret}",
                   home_raw.replace(tokens.PREFIX, f"{tokens.PREFIX}yi.", 1)):
        answer = api.get("/api/v1/permits", headers=bearer(forged))
        assert answer.status_code == 401 and answer.get_json()["code"] == "unauthorized", forged
    assert api.get("/api/v1/permits", headers=bearer(yi_raw)).status_code == 200


def test_a_park_enterprises_write_token_writes_in_its_enterprise_alone(api, second):
    from models import Finding
    yi = {**bearer(tokens.create("乙厂巡检", "write", enterprise=second)), "Idempotency-Key": "k1"}
    body = {"place": "3#罐区", "description": "乙厂东侧消防通道堵塞", "found_by": "褚卫"}
    posted = api.post("/api/v1/findings", json=body, headers=yi)
    assert posted.status_code == 201, posted.get_json()
    assert not Finding.select().where(Finding.description == body["description"]).exists()
    with bound(enterprises.database_of(second)):
        assert Finding.select().where(Finding.description == body["description"]).count() == 1
    with pytest.raises(tokens.TokenError, match="没有编码为“bing”的企业"):
        tokens.create("丙厂", "read", enterprise="bing")


def test_adding_an_enterprise_is_one_command_that_migrates_its_database_and_refuses_a_shared_one(api, tmp_path,
                                                                                                 enterprise_url):
    from app import cli
    from models.schema import discover
    runner = CliRunner()
    url = enterprise_url("jia", fresh=True)
    made = runner.invoke(cli, ["enterprise", "add", "jia", "--name", "甲化工", "--database-url", url])
    assert made.exit_code == 0, made.output
    assert f"created schema at version {discover()[-1].version}" in made.output
    assert "jia\t甲化工" in runner.invoke(cli, ["enterprise", "list"]).output
    for args, words in ((["jia", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"], "已存在"),
                        (["bing", "--database-url", url], "已由“甲化工”使用"),
                        (["Bad Code", "--database-url", f"sqlite:///{tmp_path / 'y.db'}"], "不合法")):
        again = runner.invoke(cli, ["enterprise", "add", *args[:1], "--name", "丙", *args[1:]])
        assert again.exit_code != 0 and words in again.output, again.output
    token = runner.invoke(cli, ["--enterprise", "jia", "api-token", "create", "--name", "园区"])
    assert token.exit_code == 0, token.output
    assert token.output.strip().splitlines()[-1].startswith(f"{tokens.PREFIX}jia.")
    assert "园区\tread" in runner.invoke(cli, ["--enterprise", "jia", "api-token", "list"]).output
    assert "园区" not in runner.invoke(cli, ["api-token", "list"]).output
