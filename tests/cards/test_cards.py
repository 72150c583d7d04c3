"""Cards built from real permits, rendered to WeCom template_card JSON and held to docs/wecom.md §2."""
import json
import re
from datetime import timedelta

import pytest

from bot.delivery import PERMIT_CARD_KINDS
from cards import actions, links, wecom
from cards.build import card_for, duration
from cards.card import Button, Card, Field
from models import Outbox, Step
from models.permit import Permit
from tests.conftest import MORNING
from workflow import AlreadySigned, StaleVersion, engine, machine, template as templates, work
from workflow.walkthrough import Clock, _act, draft, run_to_close

BASE = "http://127.0.0.1:5000"
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]+")


# -- docs/wecom.md §2, as a validator --------------------------------------------------------------
def check_template_card(card: dict) -> None:
    """Fail unless card obeys the field rules WeCom applies to message/send's template_card."""
    json.dumps(card, ensure_ascii=False)  # it must be plain JSON
    kind = card["card_type"]
    assert kind in ("text_notice", "news_notice", "button_interaction", "vote_interaction",
                    "multiple_interaction")
    if "task_id" in card or "action_menu" in card or kind.endswith("_interaction"):
        task = card["task_id"]
        assert TASK_ID.fullmatch(task) and len(task.encode()) <= 128, task
    for row in card.get("horizontal_content_list", []):
        assert 1 <= len(row["keyname"]) <= 5 and row["value"], row
    assert len(card.get("horizontal_content_list", [])) <= 6
    main = card.get("main_title", {})
    if kind in ("text_notice", "news_notice"):
        action = card["card_action"]
        assert action["type"] in (1, 2)
        assert action["url"].startswith(("http://", "https://")) if action["type"] == 1 else action["appid"]
    if kind == "text_notice":
        assert main.get("title") or card.get("sub_title_text")
    if kind == "news_notice":
        assert card.get("card_image") or card.get("image_text_area")
    if kind == "button_interaction":
        buttons = card["button_list"]
        assert 1 <= len(buttons) <= 6
        for b in buttons:
            assert 1 <= b["style"] <= 4 and b["text"]
            assert b.get("type", 0) in (0, 1)
            if b.get("type", 0) == 0:
                assert 1 <= len(b["key"].encode()) <= 1024
            else:
                assert b["url"]
        keys = [b["key"] for b in buttons if b.get("type", 0) == 0]
        assert len(keys) == len(set(keys))
    if kind == "vote_interaction":
        box = card["checkbox"]
        assert 1 <= len(box["question_key"].encode()) <= 1024
        assert box["mode"] in (0, 1)
        options = box["option_list"]
        assert 1 <= len(options) <= 20
        ids = [o["id"] for o in options]
        assert len(ids) == len(set(ids)) and all(1 <= len(i.encode()) <= 128 for i in ids)
        assert all(o["text"] for o in options)
        assert card["submit_button"]["text"] and 1 <= len(card["submit_button"]["key"].encode()) <= 1024
    if kind == "multiple_interaction":
        assert 1 <= len(card["select_list"]) <= 3
        assert all(len(s["option_list"]) <= 10 for s in card["select_list"])
        assert card["submit_button"]


def visible_text(card: dict) -> str:
    """Return everything a person reads on the rendered card."""
    parts = [card["main_title"].get("title", ""), card["main_title"].get("desc", ""),
             card.get("sub_title_text", ""), card.get("emphasis_content", {}).get("title", "")]
    parts += [f"{r['keyname']} {r['value']}" for r in card.get("horizontal_content_list", [])]
    return "\n".join(parts)


def walk(work_type: str):
    """Take a sample permit through every step like run_to_close, yielding (permit, step, clock)
    before each step is acted on."""
    permit = draft(work_type, start=MORNING)
    clock = Clock(MORNING - timedelta(minutes=90))
    engine.submit(permit.no, by=permit.applicant, now=clock.tick())
    for _ in range(40):
        permit = Permit.get_by_id(permit.id)
        if permit.state == "closed":
            return
        step = machine.active_step(permit)
        if step.phase == "start" and clock.now < permit.planned_start:
            clock.now = permit.planned_start
        yield permit, step, clock
        _act(permit, step, clock, lambda s: None)
    raise AssertionError("did not close")


# -- every step of two work types --------------------------------------------------------------------
@pytest.mark.parametrize("work_type", ["hot_work", "confined_space"])
def test_every_step_gives_each_assignee_a_valid_card(plant, work_type):
    t = templates.get(work_type)
    task_ids, seen_kinds, steps_seen = set(), set(), []
    for permit, step, clock in walk(work_type):
        d = t.step(step.key)
        steps_seen.append(step.key)
        people = machine.assignees(step)
        assert people
        for person in people:
            card = card_for(permit.no, person_id=person.id, kind="act", step=step.key,
                            text="", public_base_url=BASE, now=clock.now)
            rendered = wecom.render(card)
            check_template_card(rendered)
            seen_kinds.add(rendered["card_type"])
            assert card.field("编号") == permit.no and card.field("步骤") == step.name
            assert card.url == links.url(permit, base_url=BASE)   # the signed board link
            if rendered["card_type"] != "text_notice":
                assert rendered["task_id"] not in task_ids  # unique per app: per person and version
                task_ids.add(rendered["task_id"])
            if d.kind == "gas":
                assert card.kind == "notice" and rendered["card_type"] == "text_notice"
                assert f"气体检测 {permit.no} O2=.. EX=.. H2S=.. CO=.." in rendered["sub_title_text"]
                continue
            if d.kind == "checklist":
                assert rendered["card_type"] == "vote_interaction"
                options = rendered["checkbox"]["option_list"]
                assert [o["text"] for o in options] == list(d.checklist)
                assert rendered["checkbox"]["mode"] == 1
                assert rendered["submit_button"]["text"] == "提交"
                submit = actions.parse(rendered["submit_button"]["key"])
                assert submit == actions.Action("submit", permit.no, step.key, step.round)
                assert actions.ticked(d.checklist, [o["id"] for o in options]) == list(d.checklist)
                continue
            assert rendered["card_type"] == "button_interaction"
            labels = [b["text"] for b in rendered["button_list"]]
            parsed = [actions.parse(b["key"]) for b in rendered["button_list"]]
            assert {(a.permit_no, a.step, a.version) for a in parsed} == {(permit.no, step.key, step.round)}
            yes = "同意" if d.kind == "approve" else "确认"
            assert labels[0] == yes and parsed[0].action == ("approve" if d.kind == "approve" else "confirm")
            in_approval = permit.state == "in_approval"
            assert ("驳回" in labels) == (in_approval and "reject" in d.actions)
            assert ("退回修改" in labels) == (in_approval and "return" in d.actions)
            assert set(labels) <= {"同意", "确认", "驳回", "退回修改"}
    applicable = [s.key for s in t.steps if s.applies_to(Permit.get_by_id(permit.id).grade)]
    assert steps_seen == applicable
    assert seen_kinds == {"button_interaction", "vote_interaction", "text_notice"}


def test_hot_work_approval_card_shows_what_a_signer_needs(plant):
    for permit, step, clock in walk("hot_work"):
        if step.key == "approve_unit":
            break
    person = machine.assignees(step)[0]
    card = card_for(permit.no, person_id=person.id, kind="act", step=step.key, text="",
                    now=permit.submitted_at + timedelta(minutes=65))
    text = visible_text(wecom.render(card))
    assert permit.no in text
    assert "动火作业 一级" in text
    assert "3#罐区东侧管廊" in text
    assert "11-24 08:00 – 16:00" in text
    assert "步骤 基层单位审批" in text
    assert "已等待 1 小时 05 分" in text
    # the last three signatures, oldest first: name, decision, plant time
    assert "已签：沈力 确认 06:48；褚卫 确认 06:51；陈检 检测合格 06:54" in text
    assert "请先到现场扫码签到" in text
    assert card.title == "待您审批：基层单位审批"


def test_a_click_on_the_cards_key_signs_through_the_engine(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    step = machine.active_step(permit)
    planner = machine.assignees(step)[0]
    card = card_for(permit.no, person_id=planner.id, kind="act", step=step.key, text="")
    click = actions.parse(card.buttons[0].key)
    out = engine.sign(click.permit_no, click.step, by=planner, decision=click.action,
                      expected_round=click.version, now=MORNING - timedelta(minutes=50))
    assert out.state == "in_approval"
    # The same card clicked again is now a stale card: the engine says who signed.
    with pytest.raises(AlreadySigned) as refused:
        engine.sign(click.permit_no, click.step, by=planner, decision=click.action,
                    expected_round=click.version, now=MORNING - timedelta(minutes=49))
    assert "已由 " in refused.value.message
    # A click from a card of an earlier round of the step is refused as stale.
    assessor_step = machine.active_step(Permit.get_by_id(permit.id))
    assessor = machine.assignees(assessor_step)[0]
    old = card_for(permit.no, person_id=assessor.id, kind="act", step=assessor_step.key, text="")
    submit = actions.parse(old.buttons[0].key)
    assert old.kind == "checklist"
    with pytest.raises(StaleVersion):
        engine.sign(permit.no, submit.step, by=assessor, ticks=list(old.checklist),
                    expected_round=submit.version - 1, now=MORNING - timedelta(minutes=45))
    engine.sign(permit.no, submit.step, by=assessor, ticks=actions.ticked(
        old.checklist, [actions.option_id(i) for i in range(len(old.checklist))]),
        expected_round=submit.version, now=MORNING - timedelta(minutes=45))


def test_an_act_card_for_a_settled_step_has_nothing_to_click(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    step = machine.active_step(permit)
    planner = machine.assignees(step)[0]
    engine.sign(permit.no, step.key, by=planner, now=MORNING - timedelta(minutes=58))
    card = card_for(permit.no, person_id=planner.id, kind="act", step=step.key, text="")
    assert card.kind == "outcome" and not card.buttons
    assert card.notice == f"作业计划：已由 {planner.name} 于 11-24 07:02 确认"
    assert card.field("步骤") == "作业评估（JSA）"
    check_template_card(wecom.render(card))
    # Someone never assigned to the step gets no buttons either.
    stranger = permit.applicant
    assert card_for(permit.no, person_id=stranger.id, kind="act", step="assess", text="").kind == "outcome"


def test_countersign_card_tracks_who_still_has_to_sign(plant):
    for permit, step, clock in walk("hot_work"):
        if step.key == "briefing_ack":
            break
    first, second = machine.assignees(step)[:2]
    engine.sign(permit.no, step.key, by=first, now=clock.tick())
    mine = card_for(permit.no, person_id=first.id, kind="act", step=step.key, text="", now=clock.now)
    assert mine.kind == "outcome" and "您已于" in mine.notice and not mine.buttons
    theirs = card_for(permit.no, person_id=second.id, kind="act", step=step.key, text="", now=clock.now)
    assert theirs.kind == "sign" and "已签 1 人" in theirs.notice
    click = actions.parse(theirs.buttons[0].key)
    assert click.version == step.round
    # The co-signer's card still works although the first signature moved the permit's version on.
    engine.sign(permit.no, step.key, by=second, decision=click.action, expected_round=click.version,
                now=clock.tick())


# -- every notification the engine queued, rendered ------------------------------------------------
def test_every_outbox_row_of_a_whole_permit_renders_to_a_valid_card(plant):
    permit = run_to_close("confined_space", start=MORNING)
    # The permit's own cards (its isolation point's verify and release cards are built elsewhere).
    rows = list(Outbox.select().where((Outbox.permit_no == permit.no) & Outbox.kind.in_(PERMIT_CARD_KINDS))
                .order_by(Outbox.id))
    assert {r.kind for r in rows} >= {"act", "outcome"}
    task_ids = set()
    for row in rows:
        p = row.payload
        card = card_for(permit.no, person_id=p["person_id"], kind=p["kind"], step=p["step"],
                        text=p["text"], serial=row.id)
        rendered = wecom.render(card)
        check_template_card(rendered)
        assert card.task_id not in task_ids
        task_ids.add(card.task_id)
        # The permit is closed: nothing left to click, every card says so.
        assert card.kind in ("notice", "outcome") and rendered["card_type"] == "text_notice"
        assert card.field("步骤") == "已关闭"


def test_stop_card_is_urgent_and_update_settles_the_card(plant):
    for permit, step, clock in walk("hot_work"):
        if step.key == "complete":
            break
    work.suspend(permit.no, by=None, reason="可燃气体报警 EX=25%LEL", now=clock.tick())
    stops = [r for r in Outbox.select().where(Outbox.permit_no == permit.no) if r.kind == "stop"]
    assert stops
    for row in stops:
        card = card_for(permit.no, person_id=row.person_id, kind="stop", step=None,
                        text=row.payload["text"], now=clock.now)
        rendered = wecom.render(card)
        check_template_card(rendered)
        assert rendered["card_type"] == "text_notice"
        assert rendered["emphasis_content"]["title"] == "立即停止作业"
        assert rendered["source"]["desc_color"] == 2
        assert "可燃气体报警" in rendered["sub_title_text"]
        assert card.field("编号") == permit.no


def test_outcome_update_replaces_the_whole_card(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    step = machine.active_step(permit)
    planner = machine.assignees(step)[0]
    engine.sign(permit.no, step.key, by=planner, now=MORNING - timedelta(minutes=18))
    signature = machine.signatures(Step.get_by_id(step.id))[-1]
    text = machine.outcome_text(step, signature)
    card = card_for(permit.no, person_id=planner.id, kind="outcome", step=step.key, text=text)
    update = wecom.render_update(card)
    assert set(update) == {"template_card"}
    body = update["template_card"]
    check_template_card(body)
    assert body["card_type"] == "text_notice" and "task_id" not in body
    assert f"已由 {planner.name} 于 11-24 07:42 确认" in body["sub_title_text"]
    assert body["main_title"]["title"] == "已办理：作业计划"
    sign = card_for(permit.no, person_id=machine.assignees(machine.active_step(permit))[0].id,
                    kind="act", step="assess", text="")
    with pytest.raises(ValueError):
        wecom.render_update(sign)


def test_info_notice_after_a_return(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    step = machine.active_step(permit)
    planner = machine.assignees(step)[0]
    card = card_for(permit.no, person_id=planner.id, kind="act", step=step.key, text="")
    back = actions.parse(next(b.key for b in card.buttons if b.label == "退回修改"))
    engine.return_for_revision(back.permit_no, back.step, by=planner, reason="作业范围不清楚",
                               now=MORNING - timedelta(minutes=55))
    row = Outbox.select().where((Outbox.permit_no == permit.no) & (Outbox.kind == "info")).get()
    card = card_for(permit.no, person_id=row.person_id, kind="info", step=None,
                    text=row.payload["text"])
    rendered = wecom.render(card)
    check_template_card(rendered)
    assert "作业范围不清楚" in rendered["sub_title_text"]
    assert card.field("步骤") == "草稿"


# -- renderer limits and the neutral card -----------------------------------------------------------
FIELDS = (Field("编号", "DH-20261124-0001"), Field("类型", "动火作业 一级"))


def test_more_than_twenty_checklist_items_is_refused():
    items = tuple(f"第 {i} 项" for i in range(21))
    key = actions.key("submit", "DH-20261124-0001", "assess", 3)
    card = Card("checklist", "t1", "待您逐项确认", "", FIELDS, (Button("提交", key),),
                checklist=items, checklist_key=key, url=BASE)
    with pytest.raises(ValueError):
        wecom.render(card)
    fits = Card("checklist", "t1", "待您逐项确认", "", FIELDS, (Button("提交", key),),
                checklist=items[:20], checklist_key=key, url=BASE)
    check_template_card(wecom.render(fits))


def test_the_renderer_refuses_what_wecom_would():
    seven = tuple(Button(str(i), f"k{i}") for i in range(7))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t1", "x", "", FIELDS, seven))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t1", "x", "", FIELDS, (Button("a", "k"), Button("b", "k"))))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t1", "x", "", FIELDS, (Button("a", "k", 5),)))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t 1", "x", "", FIELDS, (Button("a", "k"),)))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t" * 129, "x", "", FIELDS, (Button("a", "k"),)))
    with pytest.raises(ValueError):
        wecom.render(Card("sign", "t1", "x", "", FIELDS, (Button("a", "k" * 1025),)))
    with pytest.raises(ValueError):  # text_notice needs card_action, so a url
        wecom.render(Card("notice", "t1", "x", "", FIELDS, ()))
    with pytest.raises(ValueError):
        Card("notice", "t1", "x", "", FIELDS, (Button("a", "k"),))
    with pytest.raises(ValueError):
        Card("banner", "t1", "x", "", FIELDS, ())


def test_long_keynames_and_values_are_cut_to_what_wecom_shows():
    fields = tuple(Field(f"很长的字段名{i}", "值" * 50) for i in range(8))
    rendered = wecom.render(Card("notice", "t1", "x", "", fields, (), url=BASE))
    check_template_card(rendered)
    assert len(rendered["horizontal_content_list"]) == 6
    assert all(len(r["value"]) <= 30 for r in rendered["horizontal_content_list"])


@pytest.mark.parametrize("minutes, said", [(0, "0 分钟"), (5, "5 分钟"), (65, "1 小时 05 分"),
                                           (600, "10 小时 00 分"), (26 * 60 + 7, "1 天 02 小时")])
def test_waits_read_like_a_person_says_them(minutes, said):
    assert duration(timedelta(minutes=minutes)) == said


def test_task_ids_differ_per_person_round_and_version(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    a = card_for(permit.no, person_id=1, kind="act", step="plan", text="")
    b = card_for(permit.no, person_id=2, kind="act", step="plan", text="")
    assert a.task_id != b.task_id
    assert card_for(permit.no, person_id=1, kind="act", step="plan", text="", serial=9).task_id \
        != a.task_id
    planner = machine.assignees(machine.active_step(permit))[0]
    card = card_for(permit.no, person_id=planner.id, kind="act", step="plan", text="")
    assert card.task_id == f"{permit.no}-plan-r1-p{planner.id}-v{Permit.get_by_id(permit.id).version}"


def test_no_base_url_means_no_link(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    planner = machine.assignees(machine.active_step(permit))[0]
    card = card_for(permit.no, person_id=planner.id, kind="act", step="plan", text="",
                    public_base_url="")
    assert card.url == "" and "card_action" not in wecom.render(card)
    info = card_for(permit.no, person_id=planner.id, kind="info", step=None, text="x",
                    public_base_url="https://permit.example.com/")
    assert info.url.startswith(f"https://permit.example.com/board/{permit.no}?t=")
    with pytest.raises(ValueError):
        card_for(permit.no, person_id=planner.id, kind="nudge", step=None, text="x")
