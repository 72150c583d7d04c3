"""Signed board links: what each token opens, and that a guessed, tampered or lapsed one opens nothing."""
from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

import settings
from cards import links, wecom
from cards.build import card_for
from models import utcnow
from models.permit import Permit
from tests.conftest import MORNING
from workflow import engine, machine
from workflow.walkthrough import draft, run_to_close

BASE = "https://permit.example-plant.cn"


def args_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def submitted(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    return Permit.get_by_id(permit.id)


def test_each_link_opens_its_own_purpose_and_no_other(submitted):
    no = submitted.no
    view, site, printed = (links.url(submitted, p, base_url=BASE) for p in ("view", "site", "print"))
    assert view.startswith(f"{BASE}/board/{no}?t=") and site.startswith(f"{BASE}/board/{no}?s=")
    assert links.opened(no, args_of(view), ("view", "site")) == (submitted, "view")
    assert links.opened(no, args_of(site), ("view", "site")) == (submitted, "site")
    # A card's link cannot stand in for the code at the site, nor the print link for either.
    assert links.opened(no, args_of(view), ("site",)) is None
    assert links.opened(no, {"s": args_of(view)["t"]}, ("site",)) is None
    assert links.opened(no, args_of(printed), ("view", "site")) is None


URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def lenient(token: str) -> bytes:
    """Decode as a lenient decoder does: padding added, stray characters and padding bits ignored."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def flipped(t: str, i: int) -> str:
    """Return t with its character at i moved by 32 places in the alphabet: its top bit changes."""
    return t[:i] + URLSAFE[URLSAFE.index(t[i]) ^ 32] + t[i + 1:]


@pytest.mark.parametrize("spoil", [
    lambda t: flipped(t, 0),     # one character changed: all six of its bits carry signature
    lambda t: flipped(t, -1),    # the last one, in a bit that carries signature too
    lambda t: t[:20],            # cut short
    lambda t: "",                # none at all
    lambda t: "x" * 43,          # guessed
])
def test_a_tampered_token_opens_nothing(submitted, spoil):
    token = links.token(submitted, "view")
    assert lenient(spoil(token)) != lenient(token)   # a change of the signature, not of its spelling
    assert links.opened(submitted.no, {"t": spoil(token)}, ("view",)) is None


@pytest.mark.parametrize("twin", [
    lambda t: t[:-1] + URLSAFE[URLSAFE.index(t[-1]) ^ 1],   # the last character's padding bits set
    lambda t: t + "=",                                      # padded
    lambda t: t[:10] + "!!!!" + t[10:],                     # characters outside the alphabet
])
def test_a_non_canonical_twin_of_a_valid_token_opens_nothing(submitted, twin):
    for purpose, param in links.PARAMS.items():
        token = links.token(submitted, purpose)
        assert len(token) == 43 and twin(token) != token
        assert lenient(twin(token)) == lenient(token)   # the same signature, spelt another way
        assert links.opened(submitted.no, {param: twin(token)}, (purpose,)) is None
        assert links.opened(submitted.no, {param: token}, (purpose,)) == (submitted, purpose)


def test_a_token_is_bound_to_its_permit_and_to_the_key(submitted, monkeypatch):
    other = draft("height", start=MORNING)
    engine.submit(other.no, by=other.applicant, now=MORNING - timedelta(hours=1))
    assert links.opened(other.no, {"t": links.token(submitted, "view")}, ("view",)) is None
    token = links.token(submitted, "view")
    monkeypatch.setenv("SECRET_KEY", "another-plant-entirely-0123456789")
    settings.configure()
    assert links.opened(submitted.no, {"t": token}, ("view",)) is None


def test_a_permit_number_reused_by_a_rebuilt_database_does_not_open_with_the_old_code(submitted):
    token = links.token(submitted, "site")
    Permit.update(created_at=submitted.created_at + timedelta(seconds=1)).where(
        Permit.id == submitted.id).execute()
    assert links.opened(submitted.no, {"s": token}, ("site",)) is None


def test_a_draft_has_no_board(plant):
    permit = draft("hot_work", start=MORNING)
    assert links.opened(permit.no, {"t": links.token(permit, "view")}, ("view",)) is None


def test_the_link_lapses_a_grace_period_after_the_permit_ended(plant):
    permit = run_to_close("height", start=MORNING)
    token = {"t": links.token(permit, "view")}
    ended = permit.closed_at
    assert links.opened(permit.no, token, ("view",), now=ended + timedelta(hours=23)) is not None
    assert links.opened(permit.no, token, ("view",), now=ended + timedelta(hours=24, seconds=1)) is None


def test_the_applicant_and_guardian_get_the_site_code_in_their_notices_and_approvers_do_not(submitted):
    def notice(account: str) -> dict:
        from models import find_person
        card = card_for(submitted.no, person_id=find_person(account).id, kind="info", step=None,
                        text="x", public_base_url=BASE)
        return wecom.render(card)
    for account in ("zhuyan", "chuwei"):
        jumps = notice(account)["jump_list"]
        assert [j["title"] for j in jumps] == ["现场二维码", "打印作业票"]
        assert jumps[0]["url"].startswith(f"{BASE}/board/{submitted.no}/qr.png?p=")
        assert links.opened(submitted.no, args_of(jumps[1]["url"]), ("print",)) == (submitted, "print")
    assert "jump_list" not in notice("wuhai")
    assert notice("wuhai")["card_action"]["url"] == links.url(submitted, base_url=BASE)


def test_cards_say_what_must_happen_on_site_before_a_click_counts(plant):
    permit = draft("hot_work", start=MORNING)
    engine.submit(permit.no, by=permit.applicant, now=MORNING - timedelta(hours=1))
    from workflow.walkthrough import Clock, _act
    clock = Clock(MORNING - timedelta(minutes=60))
    for _ in range(20):
        step = machine.active_step(Permit.get_by_id(permit.id))
        if step.key == "start":
            break
        _act(Permit.get_by_id(permit.id), step, clock, lambda line: None)
    guardian = machine.assignees(step)[0]
    card = card_for(permit.no, person_id=guardian.id, kind="act", step="start", text="", now=utcnow())
    assert "须监护人、作业负责人现场扫码签到（30 分钟内有效）" in card.notice
