"""The park view: a park token reads every enterprise side by side, each part from that enterprise's own
database; no enterprise's token reads it, and the park token reads nothing else and writes nothing."""
from __future__ import annotations

import pytest

from handlers.api import tokens
from models import Alarm, Enterprise, database, utcnow
from models.db import bound
from park import enterprises
from tests.handlers.api.test_enterprises import second  # noqa: F401 - two enterprises with data
from tests.handlers.api.test_open_api import api, bearer, make_permit  # noqa: F401 - fixtures shared


def overview(api, headers) -> dict:
    answer = api.get("/api/v1/park/overview", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {site["code"]: site for site in answer.get_json()["enterprises"]}


def test_the_park_token_sees_each_enterprises_live_permits_alarms_findings_and_kpis_side_by_side(api, second):
    make_permit("DH-20261124-0009", state="closed")   # the home's, no longer live
    with bound(enterprises.database_of(second)):
        Alarm.create(device="GD-0012", level="二级", gas="h2s", value=25.0, text="H2S 二级报警", area="3#罐区",
                     reading_at=utcnow())
    park = bearer(tokens.create("园区安全办", "park"))
    sites = overview(api, park)
    assert list(sites) == [None, "yi"]
    home, yi = sites[None], sites["yi"]
    assert (yi["name"], yi["error"]) == ("乙化工", None)
    assert [p["no"] for p in home["permits"]] == ["DH-20261124-0001"] and home["live_permits"] == 1
    assert [p["no"] for p in yi["permits"]] == ["DH-20261124-0002"] and yi["permits"][0]["state_name"] == "作业中"
    assert (home["open_alarms"], yi["open_alarms"]) == (0, 1) and yi["alarms"][0]["level"] == "二级"
    assert (home["open_findings"], yi["open_findings"]) == (0, 1) and "围堰" in yi["findings"][0]["description"]
    for site in (home, yi):
        assert set(site["kpi"]) == {"month", "score", "groups", "indicators", "permits", "alarms"}
        assert set(site["kpi"]["groups"]) == {"process", "timeliness", "alarm", "closure"}
    assert database.obj is database.home   # every enterprise's binding given back


def test_only_a_park_token_reads_the_park_view_and_it_reads_nothing_else_nor_writes(api, second):
    park = bearer(tokens.create("园区安全办", "park"))
    home = bearer(tokens.create("本厂看板", "read"))
    home_writer = bearer(tokens.create("人事系统", "write"))
    yi = bearer(tokens.create("乙厂看板", "read", enterprise=second))
    for other in (home, home_writer, yi):
        answer = api.get("/api/v1/park/overview", headers=other)
        assert answer.status_code == 403 and "只有园区令牌" in answer.get_json()["message"]
    for path in ("/api/v1/permits", "/api/v1/people", "/api/v1/findings"):
        answer = api.get(path, headers=park)
        assert answer.status_code == 403 and "园区令牌只能读取园区视图" in answer.get_json()["message"]
    written = api.post("/api/v1/people", headers={**park, "Idempotency-Key": "k1"},
                       json={"name": "新人", "unit": "SC01", "mobile": "13900000001"})
    assert written.status_code == 403
    assert api.get("/api/v1/permits/DH-20261124-0001", headers=park).status_code == 403
    with pytest.raises(tokens.TokenError, match="只能在部署本身创建"):
        tokens.create("乙厂园区", "park", enterprise=second)


def test_an_enterprise_whose_database_does_not_answer_is_listed_with_why_and_the_rest_still_shown(api, second,
                                                                                                  tmp_path,
                                                                                                  enterprise_url):
    enterprises.add("bing", "丙化工", enterprise_url("bing"))
    Enterprise.update(database_url=f"sqlite:///{tmp_path / 'gone' / 'bing.db'}").where(
        Enterprise.code == "bing").execute()
    sites = overview(api, bearer(tokens.create("园区安全办", "park")))
    assert sites["bing"]["error"] == "无法读取该企业的数据库" and sites["bing"]["kpi"] is None
    assert [p["no"] for p in sites["yi"]["permits"]] == ["DH-20261124-0002"]
