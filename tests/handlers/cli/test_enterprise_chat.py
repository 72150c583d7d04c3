"""`enterprise chat`: a park enterprise's own WeCom corp or DingTalk org, checked as `.env` is, and what entering
the enterprise then makes of the settings and the callbacks."""
from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner

import settings
from models import AuditEvent
from park import enterprises
from tests.handlers.api.test_open_api import api  # noqa: F401 - the app on the sample plant
from tests.worlds import AES_KEY, CORP

JIA_AES = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")
JIA = ["WECOM_CORP_ID=wwjia00001", "WECOM_AGENT_ID=1000003", "WECOM_SECRET=s", "WECOM_TOKEN=t",
       f"WECOM_AES_KEY={JIA_AES}"]


@pytest.fixture
def jia(api, enterprise_url, monkeypatch):
    # The deployment's own WeCom, so that its corp id is taken.
    for name, value in {"WECOM_CORP_ID": CORP, "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "x",
                        "WECOM_TOKEN": "y", "WECOM_AES_KEY": AES_KEY}.items():
        monkeypatch.setenv(name, value)
    settings.configure()
    enterprises.add("jia", "甲化工", enterprise_url("jia"))
    enterprises.add("yi", "乙化工", enterprise_url("yi"))
    return CliRunner()


def run(runner, *args):
    from app import cli
    return runner.invoke(cli, ["enterprise", "chat", *args])


def test_an_enterprise_gets_its_own_app_and_runs_with_it_alone(jia):
    done = run(jia, "jia", *JIA)
    assert done.exit_code == 0 and "企业微信应用已设置" in done.output, done.output
    with enterprises.entered("jia"):
        conf = settings.current()
        assert (conf.wecom.corp_id, conf.dingtalk, conf.default_platform) == ("wwjia00001", None, "wecom")
    assert settings.current().wecom.corp_id == CORP   # the deployment's own, outside
    with enterprises.entered("yi"):   # no apps of its own: the deployment's
        assert settings.current().wecom.corp_id == CORP
    assert enterprises.corp_owner("wecom", "wwjia00001") == "jia" and enterprises.corp_owner("wecom", CORP) == ""
    [event] = AuditEvent.select().where(AuditEvent.action == "enterprise_chat_set")
    assert event.data == {"code": "jia", "apps": {"wecom": "wwjia00001"}}   # which app, never its secret


@pytest.mark.parametrize("args, says", [
    (["bing", *JIA], "没有编码为“bing”的企业"),
    (["jia", *JIA[:-1]], "WECOM_AES_KEY missing"),
    (["jia", *JIA[:-1], "WECOM_AES_KEY=short"], "43-character"),
    (["jia", "SECRET_KEY=x"], "未识别：SECRET_KEY"),
    (["jia", "WECOM_CORP_ID"], "变量=值"),
    (["jia", f"WECOM_CORP_ID={CORP}", *JIA[1:]], "已由“本部署”使用"),
])
def test_a_bad_app_is_refused_by_name_and_nothing_is_stored(jia, args, says):
    refused = run(jia, *args)
    assert refused.exit_code != 0 and says in refused.output and "Traceback" not in refused.output, refused.output
    assert [e.wecom for e in enterprises.listing()] == [None, None]


def test_another_enterprises_corp_is_refused(jia):
    assert run(jia, "jia", *JIA).exit_code == 0
    refused = run(jia, "yi", *JIA)
    assert refused.exit_code != 0 and "已由“jia”使用" in refused.output


def test_a_callback_of_a_corp_nobody_has_is_refused_before_anything_is_stored(jia, api):
    from models import InboxEvent
    before = (InboxEvent.select().count(), AuditEvent.select().count())
    body = b"<xml><ToUserName><![CDATA[wwnobody]]></ToUserName><Encrypt><![CDATA[x]]></Encrypt></xml>"
    assert api.post("/wecom/callback", data=body).status_code == 403
    for field in ("corpId", "chatbotCorpId"):
        assert api.post("/dingtalk/robot", json={field: "dingnobody"}).status_code == 403
    assert (InboxEvent.select().count(), AuditEvent.select().count()) == before


def test_a_command_run_for_an_enterprise_reads_its_apps(jia):
    from app import cli
    ding = ["DINGTALK_APP_KEY=k", "DINGTALK_APP_SECRET=s", "DINGTALK_CORP_ID=dingyi"]
    assert run(jia, "jia", *JIA).exit_code == 0 and run(jia, "yi", *ding).exit_code == 0
    # jia chats on WeCom alone; yi's DingTalk app holds a Stream connection, so has no callback to register.
    assert "未配置钉钉" in jia.invoke(cli, ["--enterprise", "jia", "dingtalk-setup"]).output
    assert "DINGTALK_MODE=stream" in jia.invoke(cli, ["--enterprise", "yi", "dingtalk-setup"]).output
