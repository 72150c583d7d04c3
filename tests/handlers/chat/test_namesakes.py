"""The namesake choice: a held message is handled again only for its writer and one of its candidates."""
from bot.base import Event
from cards import actions
from handlers.chat.namesakes import handle_click, substitute
from models import Department, NameChoice, Outbox, Person
from models.people import handle


def _click(user: str, key: str) -> Event:
    return Event(platform="wecom", kind="click", user_id=user, created_at=0, key=key, task_id="pick-1-p1",
                 response_code=key)


def test_the_chosen_person_takes_the_names_place_as_a_whole_word_only(plant):
    jiang = Person.get(Person.wecom_userid == "jianghan")
    text = "申请动火作业\n内容: 蒋焊 焊接\n作业人: 蒋焊,沈力\n监护人：蒋焊二"
    assert substitute(text, "蒋焊", jiang) == (f"申请动火作业\n内容: {handle(jiang)} 焊接\n"
                                              f"作业人: {handle(jiang)},沈力\n监护人：蒋焊二")


def test_a_click_by_someone_else_or_for_a_stranger_is_refused_and_changes_nothing(plant):
    zhuyan, jiang, chu = (Person.get(Person.wecom_userid == a) for a in ("zhuyan", "jianghan", "chuwei"))
    twin = Person.create(name="蒋焊", wecom_userid="jianghan2", department=Department.get(Department.code == "U2"))
    choice = NameChoice.create(person=zhuyan, platform="wecom", text="交接 DH-20261124-0001 蒋焊", token="蒋焊",
                               candidates=[jiang.id, twin.id])
    assert handle_click(_click("chuwei", actions.pick_key(choice.id, jiang.id)), chu).startswith("refused")
    assert handle_click(_click("zhuyan", actions.pick_key(choice.id, chu.id)), zhuyan) == "refused: 所选人员不在候选之中"
    assert NameChoice.get_by_id(choice.id).chosen_id is None
    assert [r.payload["text"] for r in Outbox.select()] == ["未办理：这张选择卡片不是发给您的", "未办理：所选人员不在候选之中"]
    assert handle_click(_click("zhuyan", "permit.approve:DH-1:plan:1"), zhuyan) is None
