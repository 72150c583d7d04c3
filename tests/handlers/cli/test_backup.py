"""backup and restore: a running plant's permits, signatures, readings and photos come back whole."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import models
import settings
from app import cli
from handlers.demo.scripted import take_through
from models import MODELS, Attachment, AuditEvent, GasReading, Permit, SchemaVersion, Signature

from tests.conftest import _external_url, _truncate
from tests.test_wecom_real_path import applied, a_detector
from tests.worlds import world as a_world


def invoke(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert (result.exit_code == 0) == ok, result.output
    assert "Traceback" not in result.output
    return result.output


def counts() -> dict[str, int]:
    return {m._meta.table_name: m.select().count() for m in MODELS if m is not SchemaVersion}


def rows(model) -> list[tuple]:
    return list(model.select().order_by(model._meta.primary_key).tuples())


@pytest.fixture
def running_plant(plant, monkeypatch, redis_conn, tmp_path):
    """A permit taken to work through the real path, with a bound detector's readings and the crew's photos."""
    with a_world("wecom", plant=plant, monkeypatch=monkeypatch, redis_conn=redis_conn) as w:
        permit, _ = applied(w.phone, w.drain)
        device = a_detector(w.phone)
        take_through(w.phone, permit.no, w.drain, until="in_progress", detector=device)
        yield plant


def test_backup_while_running_then_restore_on_another_machine_and_the_audit_chain_verifies(
        running_plant, tmp_path, monkeypatch):
    assert Signature.select().count() and GasReading.select().count() and Attachment.select().count()
    before = counts()
    kept = {t: rows(m) for m in (Permit, Signature, GasReading, Attachment, AuditEvent)
            for t in [m._meta.table_name]}
    photo = Attachment.select().first()
    photo_bytes = (settings.current().instance_path / photo.path).read_bytes()
    archive = tmp_path / "plant.tar.gz"
    assert "已备份" in invoke("backup", "--out", str(archive))

    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        names = set(tar.getnames())
        settings_text = tar.extractfile("settings.json").read().decode()
    assert manifest["database"]["tables"]["permit"] == before["permit"]
    assert f"media/{photo.path}" in names and manifest["media_files"] >= 1
    assert "sandbox-secret" not in settings_text and "sandbox-token" not in settings_text

    # The other machine: an empty database and an empty instance folder. The operator carries the audit
    # key as they carry SECRET_KEY: it is never in a backup, so the chain can vouch for itself there too.
    monkeypatch.setenv("AUDIT_KEY", settings.audit_key().decode())
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("INSTANCE_PATH", str(other))
    if _external_url():
        _truncate(models.database.obj)
    else:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{other / 'permit.db'}")
    assert "已恢复" in invoke("restore", str(archive))
    assert counts() == before
    for model in (Permit, Signature, GasReading, Attachment, AuditEvent):
        assert rows(model) == kept[model._meta.table_name]
    assert (other / photo.path).read_bytes() == photo_bytes
    assert invoke("verify-audit").startswith("OK")

    # The same file again: refused, the database is no longer empty; --force replaces.
    assert "不是空的" in invoke("restore", str(archive), ok=False)
    forced = invoke("--progress", "restore", str(archive), "--force")   # told table by table
    assert "已恢复" in forced and "正在恢复 permit：" in forced and "附件已恢复：1 个" in forced
    assert counts() == before
    assert invoke("verify-audit").startswith("OK")


def _rewrite(archive: Path, change) -> Path:
    """Copy archive with change(name, data) -> data applied to every member."""
    out = archive.with_name("changed.tar.gz")
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = change(info.name, src.extractfile(info).read())
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


@pytest.fixture
def small_archive(plant, tmp_path, monkeypatch):
    if not _external_url():
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{plant.database}")
    archive = tmp_path / "small.tar.gz"
    invoke("backup", "--out", str(archive))
    return archive


@pytest.fixture
def empty_target(tmp_path, monkeypatch):
    other = tmp_path / "empty"
    other.mkdir()
    monkeypatch.setenv("INSTANCE_PATH", str(other))
    if _external_url():
        _truncate(models.database.obj)
    else:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{other / 'permit.db'}")
    yield other
    settings.configure()


def test_a_damaged_archive_is_refused_before_anything_is_written(small_archive, empty_target):
    def flip(name, data):   # someone slips a person of their own into the file
        extra = b'{"id": 999, "name": "\xe6\x9d\x8e", "department": 1, "active": true}\n'
        return data + extra if name == "db/person.jsonl" else data
    out = invoke("restore", str(_rewrite(small_archive, flip)), ok=False)
    assert "校验和不符" in out and "db/person.jsonl" in out
    invoke("init-db")
    assert sum(counts().values()) == 0


def test_a_snapshot_of_a_newer_schema_is_refused(small_archive, empty_target):
    def newer(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["database"]["schema_version"] += 1
        return json.dumps(manifest).encode()
    out = invoke("restore", str(_rewrite(small_archive, newer)), ok=False)
    assert "比本程序的" in out and "请先升级程序" in out


def test_a_file_that_is_not_a_backup_is_refused(empty_target, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    assert "无法读取备份文件" in invoke("restore", str(junk), ok=False)
