"""Chat text commands, through the dispatcher on a real database and Redis."""
import itertools

import pytest

from bot.base import Event
from handlers.chat.dispatch import dispatch
from models import AuditEvent, Conversation, Outbox
from models.permit import Permit

_ids = itertools.count(1)

FORM = """申请动火作业
地点: 3#罐区东侧管廊
内容: DN100 管线法兰焊接
级别: 二级
介质: 甲烷
开始: {start}
结束: {end}
作业人: jianghan,shenli
监护人: chuwei"""


@pytest.fixture
def say(plant, redis_conn):
    """Return a function that sends text as an account and returns the replies it produced."""
    queued = []

    def send(account: str, text: str) -> list[str]:
        before = Outbox.select().count()
        event = Event(platform="wecom", kind="text", user_id=account, created_at=1, text=text,
                      msg_id=f"m{next(_ids)}")
        dispatch(event, redis=redis_conn, enqueue=queued.extend)
        rows = Outbox.select().order_by(Outbox.id).offset(before)
        return [r.payload["text"] for r in rows if r.person.wecom_userid == account]
    return send


def _window():
    # A weekday daytime window in the future, so the grade is not raised and submit succeeds.
    from datetime import date, timedelta
    day = date.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return f"{day} 08:00", f"{day} 16:00"


def test_help_and_unknown_text(say):
    assert "申请动火作业" in say("zhuyan", "帮助")[0]
    assert "没有听懂" in say("zhuyan", "你好")[0]


def test_the_one_message_form_applies_and_submits(say):
    start, end = _window()
    replies = say("zhuyan", FORM.format(start=start, end=end))
    assert "已提交，级别：二级" in replies[0]
    permit = Permit.get()
    assert (permit.state, permit.location, permit.medium) == ("in_approval", "3#罐区东侧管廊", "甲烷")
    assert "作业计划" in say("zhengji", "待办")[0]


def test_a_wrong_field_is_named_and_nothing_is_created(say):
    start, end = _window()
    replies = say("zhuyan", FORM.format(start=start, end=end).replace("甲烷", "月球气"))
    assert "介质" in replies[0] and "media.toml" in replies[0]
    assert Permit.select().count() == 0


def test_guided_questions_keep_the_draft_between_messages(say):
    start, end = _window()
    assert "请填写地点" in say("zhuyan", "申请动火作业")[0]
    say("zhuyan", "3#罐区东侧管廊")
    say("zhuyan", "DN100 管线法兰焊接")
    assert "请重新填写" in say("zhuyan", "三级")[0]      # not a hot-work grade
    for answer in ("二级", "甲烷", start, end, "jianghan,shenli"):
        say("zhuyan", answer)
    assert Conversation.select().count() == 1
    assert "已提交" in say("zhuyan", "chuwei")[0]
    assert Conversation.select().count() == 0 and Permit.get().state == "in_approval"


def test_gas_reading_by_text_replies_pass_or_fail_per_gas(say):
    start, end = _window()
    say("zhuyan", FORM.format(start=start, end=end))
    no = Permit.get().no
    reply = say("chenjian", f"气体检测 {no} O2=20.9 EX=12 H2S=0 CO=0")[0]
    assert "不合格" in reply and "0.50 %vol" in reply


def test_a_refused_command_is_told_and_audited(say):
    start, end = _window()
    say("zhuyan", FORM.format(start=start, end=end))
    no = Permit.get().no
    replies = say("jianghan", f"驳回 {no} plan 不同意")
    assert any("未办理" in r for r in replies)
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 1


def test_the_same_message_twice_is_handled_once(say, redis_conn):
    event = Event(platform="wecom", kind="text", user_id="zhuyan", created_at=1, text="帮助", msg_id="same")
    assert dispatch(event, redis=redis_conn, enqueue=lambda ids: None) == "帮助"
    assert dispatch(event, redis=redis_conn, enqueue=lambda ids: None) == "duplicate"
    assert Outbox.select().count() == 1


def test_two_clicks_in_the_same_second_both_count_and_a_retry_does_not(say, redis_conn):
    tap = dict(platform="wecom", kind="click", user_id="zhengji", created_at=1, key="permit.confirm:HW-404:plan",
               task_id="HW-404-plan-v1")
    first, second = Event(**tap, response_code="rc-1"), Event(**tap, response_code="rc-2")
    assert dispatch(first, redis=redis_conn, enqueue=lambda ids: None) != "duplicate"
    assert dispatch(second, redis=redis_conn, enqueue=lambda ids: None) != "duplicate"
    assert dispatch(Event(**tap, response_code="rc-1"), redis=redis_conn, enqueue=lambda ids: None) == "duplicate"
    # Each genuine click was handled (and refused: no such permit), the retry was not.
    assert AuditEvent.select().where(AuditEvent.action == "refused").count() == 2


def test_an_unknown_event_type_is_logged_and_stores_nothing(plant, redis_conn, caplog):
    event = Event(platform="wecom", kind="unknown", user_id="nobody", created_at=1,
                  raw={"MsgType": "event", "Event": "enter_agent"})
    with caplog.at_level("INFO"):
        assert dispatch(event, redis=redis_conn, enqueue=lambda ids: None) == "ignored"
    assert "enter_agent" in caplog.text
    assert AuditEvent.select().count() == 0 and Outbox.select().count() == 0


def test_a_place_not_in_the_area_tree_is_refused_in_chat_naming_the_nearest(say):
    start, end = _window()
    replies = say("zhuyan", FORM.format(start=start, end=end).replace("3#罐区东侧管廊", "5#罐区 北侧"))
    assert replies == ["申请未提交：\n地点：作业地点“5#罐区 北侧”不在本厂区域表中。最接近的是：3#罐区、2#罐区、1#罐区。"
                       "请以区域名称开头填写，具体部位写在其后，例如“3#罐区 东侧管廊”"]
    assert Permit.select().count() == 0


def test_a_guided_answer_naming_no_place_is_asked_again(say):
    say("zhuyan", "申请动火作业")
    reply = say("zhuyan", "东区空地")[0]
    assert reply.startswith("地点：作业地点“东区空地”不在本厂区域表中") and reply.endswith("请重新填写")
    assert "请填写内容" in say("zhuyan", "11#罐区 东侧")[0]
    assert Conversation.get().data["answers"]["location"] == "11#罐区 东侧"


def test_the_applicant_names_a_coordinator_in_the_form(say):
    from workflow import machine
    from workflow.template import COORDINATE
    start, end = _window()
    say("zhuyan", FORM.format(start=start, end=end))
    entry = (FORM.format(start=start, end=end).replace("申请动火作业", "申请受限空间作业")
             .replace("级别: 二级", "受限空间名称: T-301 储罐").replace("3#罐区东侧管廊", "3#罐区 T-301")
             + "\n协调人: sunli")
    assert "已提交" in say("zhuyan", entry)[0]
    permit = Permit.select().order_by(Permit.id.desc()).first()
    assert permit.coordinator.account == "sunli"
    assert COORDINATE in [s.key for s in machine.steps(permit) if s.state == "pending"]
    assert "协调人：找不到人员 nobody" in say("zhuyan", entry.replace("sunli", "nobody"))[0]


def test_an_end_date_beyond_the_planning_horizon_is_refused_naming_the_field(say):
    start, _ = _window()
    replies = say("zhuyan", FORM.format(start=start, end="9999-12-31 23:59"))
    assert len(replies) == 1 and replies[0].startswith("申请未提交：\n结束：“9999-12-31 23:59”超出范围，须在 ")
    assert Permit.select().count() == 0 and AuditEvent.select().count() == 0


def test_an_end_beyond_the_longest_validity_of_the_type_is_refused(say):
    from datetime import date, timedelta
    start, _ = _window()
    end = f"{date.fromisoformat(start[:10]) + timedelta(days=5)} 08:00"
    replies = say("zhuyan", FORM.format(start=start, end=end))
    assert "结束：须在开始后 72 小时以内（动火作业最长有效期）" in replies[0]
    assert Permit.select().count() == 0


def test_a_guided_end_too_late_is_asked_again(say):
    start, _ = _window()
    for answer in ("申请动火作业", "3#罐区东侧管廊", "DN100 管线法兰焊接", "二级", "甲烷", start):
        say("zhuyan", answer)
    reply = say("zhuyan", "9999-12-31 23:59")
    assert reply[0].startswith("结束：“9999-12-31 23:59”超出范围") and reply[0].endswith("请重新填写")
    assert Conversation.select().count() == 1 and Permit.select().count() == 0


def test_help_is_an_index_and_each_topic_fits_one_wecom_text(say):
    from bot.wecom_channel import TEXT_LIMIT
    from handlers.chat import commands, hazards
    [index] = say("zhuyan", "帮助")
    assert index == commands.HELP and "帮助 现场" in index
    pages = {topic: say("zhuyan", f"帮助 {topic}")[0] for topic in commands.HELP_TOPICS}
    assert pages["现场"].startswith("作业现场：") and "气体检测 编号" in pages["现场"]
    # WeCom cuts a longer text: the end of the help would be lost.
    assert all(len(text.encode()) <= TEXT_LIMIT for text in [index, *pages.values()])
    # Every command is on some page, at the start of a line or after a " / ".
    shown = {part.split()[0] for page in pages.values() for line in page.splitlines()
             for part in line.split(" —— ")[0].split(" / ") if part.strip()}
    words = set(commands.COMMANDS) | set(hazards.ANONYMOUS_COMMANDS) | {"待办", "取消"}
    assert words - shown == set()
    assert say("zhuyan", "帮助 不存在的类别") == [index]
