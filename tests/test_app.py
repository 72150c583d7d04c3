"""The app factory and its settings."""
import pytest

import settings
from app import create_app


def test_the_app_answers_its_health_check(db, instance, tmp_path, monkeypatch):
    if db.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'permit.db'}")
    client = create_app().test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize("name, value, said", [
    ("DATABASE_URL", "permit.db", "DATABASE_URL='permit.db' is not a URL"),
    ("PLANT_TZ", "Mars/Base", "PLANT_TZ='Mars/Base' is not a known time zone"),
    ("PLANT_HOLIDAYS", "2026-13-01", "PLANT_HOLIDAYS: '2026-13-01' is not a date"),
    ("CERT_MARGIN_DAYS", "thirty", "CERT_MARGIN_DAYS='thirty' is not a whole number"),
])
def test_a_malformed_setting_stops_the_app_naming_the_variable(name, value, said):
    with pytest.raises(settings.SettingsError, match=said.replace("(", r"\(")):
        create_app({name: value})
    settings.configure()


DINGTALK = {"DINGTALK_APP_KEY": "dingkey", "DINGTALK_APP_SECRET": "dingsecret", "DINGTALK_CORP_ID": "dingcorp"}


def test_dingtalk_http_mode_is_chosen_explicitly_and_warned_about_at_start(db, instance, tmp_path, monkeypatch,
                                                                           caplog):
    import logging
    if db.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'permit.db'}")
    chosen = settings.load(DINGTALK).dingtalk
    assert (chosen.mode, chosen.callback_window) == ("stream", 300)
    with pytest.raises(settings.SettingsError, match="DINGTALK_CALLBACK_WINDOW=7200"):
        settings.load({**DINGTALK, "DINGTALK_CALLBACK_WINDOW": "7200"})
    caplog.set_level(logging.WARNING, logger="handlers.web")
    create_app(DINGTALK)
    assert not [r for r in caplog.records if "DINGTALK_MODE=http" in r.getMessage()]
    create_app({**DINGTALK, "DINGTALK_MODE": "http", "DINGTALK_CALLBACK_WINDOW": "120"})
    warned = [r.getMessage() for r in caplog.records if "DINGTALK_MODE=http" in r.getMessage()]
    assert len(warned) == 1 and "within 120 s" in warned[0] and "Stream mode is the recommended" in warned[0]
    settings.configure()


def test_create_app_wires_every_gate_the_engine_declares_to_the_shipped_check(db, instance, tmp_path, monkeypatch):
    from certs.check import permit_problems
    from certs.expiry import warn_expiring
    from emergency.stop import resume_problems
    from faces.gate import problems as face_problems
    from hazards.deadlines import hold_problems
    from isolation.gate import release_problems, start_problems
    from meetings.preshift import problems as meeting_problems
    from sensors.alarms import manual_reading
    from sensors.watch import monitoring_problems
    from tools.loans import problems as tool_problems
    from workflow import hooks
    if db.__class__.__name__.startswith("Sqlite"):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'permit.db'}")
    for checks in hooks.CHECKS.values():
        checks.clear()
    assert hooks.unwired() == list(hooks.GATES)
    create_app()
    assert hooks.CHECKS == {"certificates": [permit_problems], "monitoring": [monitoring_problems],
                           "certificate_expiry": [warn_expiring], "gas_reading": [manual_reading],
                           "face_check": [face_problems], "isolation": [start_problems],
                           "isolation_release": [release_problems], "resume": [resume_problems],
                           "hazard_hold": [hold_problems], "tools": [tool_problems],
                           "meeting": [meeting_problems]}
