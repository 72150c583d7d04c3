"""匿名举报 end to end, on WeCom and on DingTalk, tried the way an auditor with the database (and the logs, and
Redis) would try to find who reported: every row of every table before and after, every log line, every key."""
from __future__ import annotations

import logging
import re
from datetime import date

import pytest

from jobs.connection import redis
from jobs.scans import run_all
from models import MODELS, AnonymousReport, AuditEvent, Finding, Outbox, find_person, utcnow
from tests.worlds import world as a_world

BOTH = pytest.mark.parametrize("world", ["wecom", "dingtalk"], indirect=True)
CODE = re.compile(r"JB-[2-9A-Z]{4}-[2-9A-Z]{4}")


@pytest.fixture
def world(request, plant, monkeypatch, redis_conn):
    with a_world(getattr(request, "param", "wecom"), plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        yield w


def said(phone, user: str) -> str:
    return str(phone.messages(user)[-1])


def every_row() -> dict[str, set[tuple]]:
    return {m._meta.table_name: {repr(row) for row in m.select().tuples()} for m in MODELS}


def redis_text() -> str:
    """Every key of the app's Redis with its value, as one text to search.

    Left out: WeCom's per-member send windows (`…:sent:<account>`), which every message to anyone fills
    and empties within the hour; the reporter's was already there from the control command's reply.
    """
    r, found = redis(), []
    for key in r.scan_iter():
        if b":sent:" in key:
            continue
        kind = r.type(key)
        value = {b"string": lambda: r.get(key), b"hash": lambda: r.hgetall(key),
                 b"list": lambda: r.lrange(key, 0, -1), b"set": lambda: r.smembers(key),
                 b"zset": lambda: r.zrange(key, 0, -1)}.get(kind, lambda: b"")()
        found.append(f"{key!r} {value!r}")
    return "\n".join(found)


def traces_of(account: str) -> list[str]:
    """Return what names this person: account ids, mobile, name and row id."""
    p = find_person(account)
    return [x for x in (p.wecom_userid, p.dingtalk_userid, p.mobile, p.name) if x]


@BOTH
def test_an_anonymous_report_leaves_nothing_that_leads_back_to_its_reporter(world, caplog):
    phone, drain = world.phone, world.drain
    caplog.set_level(logging.INFO)
    phone.text("weidong", "待办")      # the control: an ordinary command is logged with its sender
    drain()
    assert any("weidong" in r.getMessage() for r in caplog.records)
    caplog.clear()
    before = every_row()

    phone.text("weidong", "举报 3#罐区 有人未办作业票在罐区东侧动火")
    drain()
    answer = said(phone, "weidong")
    assert "匿名举报已收到" in answer
    code = CODE.search(answer).group(0)

    after = every_row()
    changed = {table: after[table] - before[table] for table in after if after[table] != before[table]}
    assert list(changed) == ["anonymous_report"]          # no outbox row, audit event, conversation
    (row,) = changed["anonymous_report"]
    report = AnonymousReport.get()
    values = report.__data__.values()
    assert report.text == "有人未办作业票在罐区东侧动火" and report.place == "3#罐区"
    assert report.received_on == date.fromisoformat(report.received_on.isoformat())   # a day, not an instant
    assert not any(isinstance(v, type(utcnow())) for v in values)
    columns = AnonymousReport._meta.sorted_field_names
    assert not {"triaged_by"} ^ {c for c in columns if c.endswith("_by") or c in ("person", "reporter")}
    assert report.triaged_by_id is None
    dump = repr(after)
    assert code not in dump and code.replace("-", "") not in dump     # kept as a keyed hash only
    for trace in traces_of("weidong"):
        assert trace not in row
        assert not any(trace in r.getMessage() for r in caplog.records), trace
        assert trace not in redis_text(), trace

    phone.text("weidong", f"举报查询 {code}")
    drain()
    assert f"举报 {code}：待处理" in said(phone, "weidong")
    assert every_row() == after                                     # checking writes nothing either
    for wrong in ("JB-2345-6789", "hello", ""):
        phone.text("weidong", f"举报查询 {wrong}")
        drain()
        # The same words whatever was wrong, each answer delivered (it echoes what was asked).
        assert said(phone, "weidong").count(f"查不到举报编号“{wrong.upper()}”的记录，请核对后重试") == 1
    assert not any(t in r.getMessage() for r in caplog.records for t in traces_of("weidong"))


@BOTH
def test_reports_are_triaged_by_the_safety_department_and_the_reporter_follows_them(world):
    phone, drain = world.phone, world.drain
    phone.text("weidong", "举报 3#罐区 有人未办作业票动火")
    drain()
    first = CODE.search(said(phone, "weidong")).group(0)
    phone.text("shenli", "举报 装卸站 槽车司机未接地就卸车")
    drain()
    second = CODE.search(said(phone, "shenli")).group(0)
    phone.text("shenli", "举报")
    drain()
    assert "请写明举报内容" in said(phone, "shenli")
    assert AnonymousReport.select().count() == 2

    run_all(utcnow().replace(minute=2).isoformat())    # the hourly summary, not one message per report
    drain()
    assert "待处理的匿名举报 2 条" in said(phone, "qiananping")
    first_id, second_id = (r.id for r in AnonymousReport.select().order_by(AnonymousReport.id))

    phone.text("jianghan", f"举报处理 {first_id} 立案")
    drain()
    assert "不能处理举报" in said(phone, "jianghan")
    phone.text("sunli", f"举报处理 {first_id} 立案 重大")
    drain()
    finding = Finding.get()
    assert (finding.source, finding.grade, finding.found_by.name) == ("举报", "重大", "孙立")
    assert f"已立为隐患 {finding.no}" in said(phone, "sunli")
    phone.text("qiananping", f"举报处理 {second_id} 不予立案 经核实已接地")
    drain()
    phone.text("sunli", f"举报处理 {second_id} 立案")
    drain()
    assert "已处理" in said(phone, "sunli")

    phone.text("weidong", f"举报查询 {first}")
    drain()
    assert f"已立为隐患，隐患 {finding.no} 待指派" in said(phone, "weidong")
    phone.text("shenli", f"举报查询 {second}")
    drain()
    assert "不予立案，理由：经核实已接地" in said(phone, "shenli")
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("report_"))]
    assert actions == ["report_accepted", "report_dismissed"]
    assert not Outbox.select().where(Outbox.person.in_([find_person("weidong"), find_person("shenli")])).exists()
