"""The board page, its live part, QR code and print page, through the Flask app on a real database."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import png
import pytest
import qrcode

import settings
from cards import links
from models import Alarm, CheckIn, Person, find_person, utcnow
from models.permit import Permit
from workflow import engine, machine, record_gas
from workflow.walkthrough import Clock, _act, draft


@pytest.fixture
def client(plant, monkeypatch, redis_conn):
    from app import create_app
    if plant.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    kwargs = redis_conn.connection_pool.connection_kwargs
    monkeypatch.setenv("REDIS_URL", f"unix://{kwargs['path']}" if "path" in kwargs
                       else f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}")
    yield create_app().test_client()
    settings.configure()


def in_approval(work_type: str = "hot_work") -> Permit:
    """A permit of the sample plant, submitted now, waiting at its first step."""
    now = utcnow()
    permit = draft(work_type, start=now + timedelta(minutes=30))
    engine.submit(permit.no, by=permit.applicant, now=now)
    return Permit.get_by_id(permit.id)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def state_label(html: str) -> str:
    return re.search(r'<div class="state-label">([^<]+)</div>', html).group(1)


def test_the_board_shows_the_permit_in_big_letters_with_names_and_roles_only(client):
    permit = in_approval()
    page = client.get(path_of(links.url(permit)))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and state_label(html) == "审批中"
    for text in (permit.no, "动火作业", permit.location, permit.content, "作业负责人", "蒋焊", "监护人",
                 "褚卫", "申请人", "朱岩", "当前：作业计划（待 郑计）"):
        assert text in html, text
    for person in Person.select():   # no accounts, no phone numbers
        assert f">{person.wecom_userid}<" not in html and (not person.mobile or person.mobile not in html)
    assert 'content="width=device-width' in html
    assert "现场签到请用企业微信扫描作业现场张贴的二维码" in html   # a card's link checks nobody in


def test_unknown_tampered_missing_and_lapsed_tokens_all_get_the_same_bare_404(client):
    permit = in_approval()
    good = links.token(permit, "view")
    answers = [client.get(f"/board/{permit.no}?t={good[:-2]}xy"), client.get(f"/board/{permit.no}"),
               client.get(f"/board/DH-20990101-0001?t={good}"),
               client.get(f"/board/{permit.no}/live?t={good}x"),
               client.get(f"/board/{permit.no}/qr.png?t={good}"),        # a card's link prints nothing
               client.get(f"/board/{permit.no}/print?t={good}")]
    assert {a.status_code for a in answers} == {404}
    assert len({a.get_data() for a in answers}) == 1 and permit.no.encode() not in answers[0].get_data()
    ended = utcnow() - timedelta(hours=25)
    Permit.update(state="closed", closed_at=ended).where(Permit.id == permit.id).execute()
    assert client.get(f"/board/{permit.no}?t={good}").status_code == 404


def test_the_live_part_answers_304_until_something_changes(client):
    permit = in_approval()
    live = path_of(links.url(permit, path="/live"))
    first = client.get(live)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    assert client.get(live, headers={"If-None-Match": etag}).status_code == 304
    planner = machine.assignees(machine.active_step(permit))[0]
    engine.sign(permit.no, "plan", by=planner)
    changed = client.get(live, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "郑计 确认" in changed.get_data(as_text=True)


def test_gas_readings_show_pass_and_fail_and_active_alarms_show_in_red(client):
    permit = in_approval()
    tester = find_person("chenjian")
    record_gas(permit.no, by=tester, values={"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0})
    # Fails its limit (10 %LEL of methane) yet stays below the first alarm (25 %LEL).
    record_gas(permit.no, by=tester, values={"O2": 20.9, "EX": 15, "H2S": 0, "CO": 0})
    live = path_of(links.url(permit, path="/live"))
    html = client.get(live).get_data(as_text=True)
    rows = re.findall(r'<tr class="(pass|fail|unjudged)">', html)
    assert rows == ["fail", "pass"]                     # newest first
    assert '<td class="bad">15</td>' in html and "检测人 陈检" in html
    assert "合格限值：" in html and "可燃气体 ≤ 0.50 %vol（折算 10.0 %LEL，介质 甲烷" in html
    assert 'class="alarms"' not in html
    alarm = Alarm.create(device="GD-0012", level="二级", gas="H2S", value=25.0, area="3#罐区",
                         text="GD-0012 硫化氢 25 mg/m³ 二级报警", permit_nos=[permit.no], reading_at=utcnow())
    Alarm.create(device="GD-0099", level="一级", text="别处的报警", permit_nos=["DH-20990101-0001"],
                 reading_at=utcnow())
    html = client.get(live).get_data(as_text=True)
    assert html.count('<div class="alarm">') == 1 and "二级报警" in html and "硫化氢 25 mg/m³" in html
    Alarm.update(cleared_at=utcnow()).where(Alarm.id == alarm.id).execute()
    assert 'class="alarms"' not in client.get(live).get_data(as_text=True)


def test_a_reading_of_another_gas_gets_its_own_column_with_its_chinese_label_and_unit(client):
    permit = in_approval()
    tester = find_person("chenjian")
    live = path_of(links.url(permit, path="/live"))
    record_gas(permit.no, by=tester, values={"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0})
    assert "氨<small>" not in client.get(live).get_data(as_text=True)   # no column for a gas nobody measured
    record_gas(permit.no, by=tester, values={"O2": 20.9, "EX": 0, "H2S": 0, "CO": 0, "NH3": 35})
    html = client.get(live).get_data(as_text=True)
    assert "<th>氨<small>mg/m³</small></th>" in html and '<td class="bad">35</td>' in html
    assert "氨 &lt; 30 mg/m³" in html   # the limit it was held to, from the gas table
    assert html.count("<td>—</td>") >= 1   # the older reading measured no ammonia


def test_the_qr_code_holds_the_site_link(client):
    permit = in_approval()
    answer = client.get(path_of(links.url(permit, "print", path="/qr.png")))
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    width, height, rows, _info = png.Reader(bytes=answer.get_data()).read()
    pixels = [list(row) for row in rows]
    expected = qrcode.QRCode(box_size=10, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    expected.add_data(links.url(permit, "site"))
    matrix = expected.get_matrix()
    assert (width, height) == (len(matrix) * 10, len(matrix) * 10)
    dark = [[pixels[r * 10 + 5][c * 10 + 5] == 0 for c in range(len(matrix))] for r in range(len(matrix))]
    assert dark == matrix


def test_the_printable_permit_carries_the_qr_code_and_the_signed_measures(client):
    permit = in_approval()
    clock = Clock(utcnow())
    for _ in range(2):   # 作业计划, then the JSA checklist, every item ticked
        _act(Permit.get_by_id(permit.id), machine.active_step(permit), clock, lambda line: None)
    html = client.get(path_of(links.url(permit, "print", path="/print"))).get_data(as_text=True)
    assert "<h1>动火安全作业票</h1>" in html and "@page { size: A4" in html
    assert 'src="data:image/png;base64,' in html and links.url(permit, "site") in html
    assert html.count('<td class="tick">✓</td>') == 10 and "作业评估（JSA）" in html


def test_a_check_in_needs_the_phone_to_have_come_through_oauth_from_the_site_code(client):
    from itsdangerous import URLSafeTimedSerializer
    from handlers.web.board import WHO_COOKIE
    permit = in_approval()
    post = path_of(links.url(permit, "site", path="/checkin"))
    refused = client.post(post, data={"action": "in"})
    assert refused.status_code == 403 and "请重新扫码" in refused.get_data(as_text=True)
    wuhai = find_person("wuhai")
    forged = URLSafeTimedSerializer("not-the-plant-key-0123456789", salt="board-who").dumps(
        {"p": wuhai.id, "n": permit.no})
    client.set_cookie(WHO_COOKIE, forged, path=f"/board/{permit.no}")
    assert client.post(post, data={"action": "in"}).status_code == 403
    genuine = URLSafeTimedSerializer(settings.signing_key(), salt="board-who").dumps(
        {"p": wuhai.id, "n": permit.no})
    client.set_cookie(WHO_COOKIE, genuine, path=f"/board/{permit.no}")
    elsewhere = {"Origin": "https://elsewhere.example"}
    refused = client.post(post, data={"action": "in"}, headers=elsewhere)
    assert refused.status_code == 403 and "请在扫码打开的页面上操作" in refused.get_data(as_text=True)
    # The same proof from a card's link (view token) is not enough either.
    assert client.post(path_of(links.url(permit, path="/checkin")), data={"action": "in"}).status_code == 404
    assert not CheckIn.select().exists()
    done = client.post(post, data={"action": "in", **_at_the_site(permit)})
    assert done.status_code == 303 and done.headers["Location"].endswith("&m=in")
    assert [(c.person.wecom_userid, c.kind, c.source) for c in CheckIn.select()] == [("wuhai", "in", "scan")]
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "签到成功" in page and "吴海 · 基层单位审批" in page and "离开现场" in page


def test_a_non_canonical_twin_of_a_genuine_presence_cookie_checks_nobody_in(client):
    from itsdangerous import URLSafeTimedSerializer
    from handlers.web.board import WHO_COOKIE
    permit = in_approval()
    post = path_of(links.url(permit, "site", path="/checkin"))
    genuine = URLSafeTimedSerializer(settings.signing_key(), salt="board-who").dumps(
        {"p": find_person("wuhai").id, "n": permit.no})
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 20 bytes of HMAC in 27 characters: the last one's low 2 bits are padding that decoders ignore.
    twin = genuine[:-1] + alphabet[alphabet.index(genuine[-1]) ^ 1]
    client.set_cookie(WHO_COOKIE, twin, path=f"/board/{permit.no}")
    refused = client.post(post, data={"action": "in"})
    assert refused.status_code == 403 and "请重新扫码" in refused.get_data(as_text=True)
    assert not CheckIn.select().exists()
    client.set_cookie(WHO_COOKIE, genuine, path=f"/board/{permit.no}")
    assert client.post(post, data={"action": "in", **_at_the_site(permit)}).status_code == 303


def _at_the_site(permit) -> dict:
    """The form fields of a phone standing at the permit's site, which a fenced site asks for."""
    from workflow.places import area_of
    site = area_of(permit)
    return {"latitude": str(site.latitude), "longitude": str(site.longitude), "accuracy": "10"}


def test_a_non_canonical_twin_of_a_board_link_opens_nothing(client):
    permit = in_approval()
    url = path_of(links.url(permit, "site"))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = url[:-1] + alphabet[alphabet.index(url[-1]) ^ 1]   # 32 bytes in 43 characters: 2 padding bits
    assert client.get(twin).status_code == 404
    assert client.get(url).status_code == 200


def test_times_are_shown_in_the_plants_time_zone(client):
    permit = in_approval()
    html = client.get(path_of(links.url(permit))).get_data(as_text=True)
    start = permit.planned_start + timedelta(hours=8)      # Asia/Shanghai
    assert f"{start:%m-%d %H:%M} 至" in html
