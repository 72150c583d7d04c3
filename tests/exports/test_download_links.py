"""Short-lived download links: exactly the issued token opens the file, until it lapses."""
from __future__ import annotations

from datetime import timedelta

import pytest

import settings
from exports import links
from models import utcnow

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def published(instance, tmp_path):
    settings.configure()
    source = tmp_path / "作业票台账-2026-11.xlsx"
    source.write_bytes(b"PK workbook")
    url, _ = links.publish(source, now=utcnow())
    yield url.rsplit("/", 1)[1]
    settings.configure()


def test_the_issued_token_opens_the_file(published):
    found = links.find(published)
    assert (found.filename, found.path.read_bytes(), found.expired) == ("作业票台账-2026-11.xlsx", b"PK workbook", False)


@pytest.mark.parametrize("twin", [
    lambda t: t[:-1] + URLSAFE[URLSAFE.index(t[-1]) ^ 1],   # the last character's padding bits set
    lambda t: t + "=",                                      # padded
])
def test_a_twin_of_the_issued_token_opens_nothing_even_where_the_disk_would_find_it(published, twin):
    assert twin(published) != published
    # As a disk that maps both names to one file would: the refusal must rest on the spelling alone.
    (links.folder() / f"{twin(published)}.json").write_text(
        (links.folder() / f"{published}.json").read_text(encoding="utf-8"), encoding="utf-8")
    assert links.find(twin(published)) is None
    assert links.find(published) is not None


def test_a_lapsed_link_says_so_and_its_file_is_gone(published):
    found = links.find(published, now=utcnow() + timedelta(minutes=links.VALID_MINUTES + 1))
    assert found.expired and not found.path.exists()


def test_every_token_the_encoder_issues_is_the_canonical_spelling():
    import secrets
    assert all(links.TOKEN.fullmatch(secrets.token_urlsafe(32)) for _ in range(2000))
