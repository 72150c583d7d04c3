"""The area board: every live permit under a place, its crew on site, detectors and alarms, refreshing itself."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

import settings
from emergency import stop
from models import find_person
from models.area import Area
from models.permit import Permit
from tests.conftest import MORNING
from tests.emergency.test_emergency_stop import running_at
from workflow.walkthrough import Clock


@pytest.fixture
def client(plant, monkeypatch, redis_conn):
    from app import create_app
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    kwargs = redis_conn.connection_pool.connection_kwargs
    monkeypatch.setenv("REDIS_URL", f"unix://{kwargs['path']}")
    yield create_app().test_client()
    settings.configure()


def path_of(area: Area) -> str:
    from handlers.web.area_board import url
    return url(area, base_url="")


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-no="([^"]+)">', html)


def test_the_area_board_lists_the_live_permits_under_the_place_and_none_elsewhere(client):
    clock = Clock(MORNING - timedelta(hours=2))
    hot, roof = running_at("hot_work", "3#罐区 东侧管廊", clock), running_at("height", "3#罐区 罐顶", clock)
    elsewhere = running_at("hot_work", "常减压装置 反应釜区 北侧", clock)
    farm = Area.get(Area.name == "储运罐区")
    page = client.get(path_of(farm))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "区域公示牌 · 储运罐区" in html and rows(html) == [hot.no, roof.no] and elsewhere.no not in html
    assert 'data-permits="2"' in html and html.count(">作业中<") == 2
    # 1#罐区 sits beside 3#罐区: nothing of 3#罐区 shows there (no match by text).
    assert rows(client.get(path_of(Area.get(Area.name == "1#罐区"))).get_data(as_text=True)) == []


def test_the_live_part_changes_when_the_area_does_and_a_wrong_link_opens_nothing(client):
    clock = Clock(MORNING - timedelta(hours=2))
    hot = running_at("hot_work", "3#罐区 东侧管廊", clock)
    area = Area.get(Area.name == "3#罐区")
    live = path_of(area).replace("?a=", "/live?a=")
    first = client.get(live)
    assert first.status_code == 200 and first.headers["ETag"]
    assert client.get(live, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    stop.raise_emergency("3#罐区 演练泄漏", by=find_person("sunli"), drill=True, now=clock.tick())
    changed = client.get(live, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    html = changed.get_data(as_text=True)
    assert "【演练】3#罐区" in html and ">已暂停<" in html and Permit.get_by_id(hot.id).state == "suspended"
    assert client.get(path_of(area)[:-2] + "AA").status_code == 404
    other = Area.get(Area.name == "1#罐区")
    assert client.get(f"/area/{other.id}?a={path_of(area).split('a=')[1]}").status_code == 404
