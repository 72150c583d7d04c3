"""The export's card: 正在生成 with one 刷新进度 button, updated in place, then 已生成 opening the file."""
from __future__ import annotations

from datetime import datetime

import pytest

from cards import actions, wecom
from cards.export import finished_card, progress_card


def test_the_refresh_key_reads_back_and_a_forged_one_is_refused():
    key = actions.export_key("0123456789abcdef")
    assert key == "export.progress:0123456789abcdef" and actions.parse_export(key) == "0123456789abcdef"
    assert actions.parse_export(actions.alarm_key(7)) is None and actions.parse_alarm(key) is None
    for bad in ("export.progress:XYZ", "export.progress:0123456789abcdef0"):
        with pytest.raises(ValueError):
            actions.parse_export(bad)
    with pytest.raises(ValueError):
        actions.export_key("../../etc")


def test_the_progress_card_can_be_updated_and_still_clicked(plant):
    card = progress_card("0123456789abcdef", person_id=4, title="作业票台账 2026-11", percent=40,
                         at=datetime(2026, 11, 24, 2, 0, 5))
    sent = wecom.render(card)
    assert sent["card_type"] == "button_interaction" and sent["task_id"] == "export-0123456789abcdef-p4"
    assert [b["text"] for b in sent["button_list"]] == ["刷新进度"]
    assert {r["keyname"]: r["value"] for r in sent["horizontal_content_list"]} == {"进度": "40%", "更新于": "10:00:05"}
    update = wecom.render_update(card)["template_card"]
    assert update == sent     # the same card, same task_id: still clickable for the next 刷新进度


def test_the_finished_card_opens_the_download(plant):
    card = finished_card("0123456789abcdef", person_id=4, title="作业票台账 2026-11", text="已生成",
                         url="http://127.0.0.1:5000/exports/t")
    update = wecom.render_update(card)["template_card"]
    assert update["card_type"] == "text_notice"
    assert update["card_action"] == {"type": 1, "url": "http://127.0.0.1:5000/exports/t"}
    assert update["main_title"]["title"] == "已生成：作业票台账 2026-11"
