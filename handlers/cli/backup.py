"""backup and restore: one .tar.gz holding the database's rows, the uploaded media and the settings.

The archive holds manifest.json (format, time, schema version, row counts, and the SHA-256 of every
other member), db/<table>.jsonl, media/<path under the instance folder> and settings.json (the
settings without secrets). Restore checks every checksum before it writes anything.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import click

from .common import current_settings

FORMAT = "permit-backup/1"
# What people uploaded or loaded into the instance folder; exports are rebuilt, keys are not copied.
MEDIA = ("attachments", "hazards", "评价权重.xlsx")
SECRET_WORDS = ("secret", "token", "aes_key", "password")
REGISTRY = "enterprise"   # the park's enterprises, whose database URLs may carry passwords


class BadArchive(click.ClickException):
    """The file is not a backup this program can trust."""


def _safe_settings(conf) -> dict:
    def clean(value):
        if dataclasses.is_dataclass(value):
            return {k: clean(v) for k, v in dataclasses.asdict(value).items()
                    if not any(word in k for word in SECRET_WORDS)}
        if isinstance(value, (frozenset, set, tuple, list)):
            return sorted(map(str, value))
        return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
    found = {field.name: clean(getattr(conf, field.name)) for field in dataclasses.fields(conf)
             if not any(word in field.name for word in SECRET_WORDS)}
    found["database_url"] = _without_password(conf.database_url)
    for platform in ("wecom", "dingtalk"):
        value = getattr(conf, platform)
        found[platform] = clean(value) if value is not None else None
    return found


def _without_password(url: str) -> str:
    from park.enterprises import masked
    return masked(url)


def _registry_masked(lines: Iterator[str]) -> Iterator[str]:
    """The park's registry rows with each enterprise's database password masked.

    A backup travels further than the settings do; the enterprises' own databases are not in it, and
    after a restore an admin gives each URL's password again (enterprise set-url).
    """
    for line in lines:
        row = json.loads(line)
        row["database_url"] = _without_password(row["database_url"])
        yield json.dumps(row, ensure_ascii=False, sort_keys=True)


def _media(instance: Path) -> Iterator[Path]:
    for name in MEDIA:
        path = instance / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())


def write_backup(out: Path, conf, say: Callable[[str], None] = lambda _text: None) -> dict:
    """Write the snapshot to out (a .tar.gz) and return its manifest; say how far it got, table by table."""
    from models.snapshot import dump
    checksums: dict[str, str] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar, tempfile.TemporaryDirectory() as folder:
        def add_bytes(name: str, data: bytes) -> None:
            checksums[name] = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))

        def sink(table: str, lines: Iterator[str]) -> int:
            if table == REGISTRY:
                lines = _registry_masked(lines)
            # Spooled through a file: a table of readings may not fit in memory.
            path, count, digest = Path(folder) / f"{table}.jsonl", 0, hashlib.sha256()
            with path.open("wb") as spool:
                for line in lines:
                    chunk = (line + "\n").encode("utf-8")
                    spool.write(chunk)
                    digest.update(chunk)
                    count += 1
            checksums[f"db/{table}.jsonl"] = digest.hexdigest()
            tar.add(path, arcname=f"db/{table}.jsonl")
            say(f"  已备份 {table}：{count} 行")
            return count

        database = dump(sink)
        files = 0
        for path in _media(conf.instance_path):
            name = f"media/{path.relative_to(conf.instance_path).as_posix()}"
            checksums[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            tar.add(path, arcname=name)
            files += 1
        add_bytes("settings.json", json.dumps(_safe_settings(conf), ensure_ascii=False, indent=1).encode())
        manifest = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "database": database, "media_files": files, "checksums": checksums}
        add_bytes("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    partial.replace(out)
    return manifest


def _read_checked(path: Path) -> tuple[dict, dict[str, bytes]]:
    """Return the manifest and every member's bytes, refusing a file whose checksums do not hold."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {}
            for info in tar.getmembers():
                if not info.isfile() or info.name.startswith("/") or ".." in Path(info.name).parts:
                    raise BadArchive(f"备份文件含有不安全的条目：{info.name}")
                members[info.name] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadArchive(f"无法读取备份文件：{exc}") from None
    try:
        manifest = json.loads(members.pop("manifest.json"))
        checksums = manifest["checksums"]
        ok = manifest.get("format") == FORMAT
    except (KeyError, ValueError, TypeError):
        raise BadArchive("备份文件缺少有效的 manifest.json") from None
    if not ok:
        raise BadArchive(f"不认识的备份格式：{manifest.get('format')}")
    for name in sorted(set(members) | set(checksums)):
        if name not in members or name not in checksums:
            raise BadArchive(f"备份文件与清单不符：{name}")
        if hashlib.sha256(members[name]).hexdigest() != checksums[name]:
            raise BadArchive(f"校验和不符，备份文件已损坏或被改动：{name}")
    return manifest, members


def restore_backup(path: Path, conf, *, force: bool = False,
                   say: Callable[[str], None] = lambda _text: None) -> dict:
    """Bring the snapshot at path back into this database and instance folder; return the row counts.

    say is told each table as it is restored, and the media files at the end.
    """
    from models.schema import discover
    from models.snapshot import SnapshotRefused, load
    manifest, members = _read_checked(path)
    say(f"  校验通过：{len(members)} 个文件")

    def source(table: str) -> Iterator[str]:
        lines = members.get(f"db/{table}.jsonl", b"").decode("utf-8").splitlines()
        say(f"  正在恢复 {table}：{len(lines)} 行")
        return iter(lines)
    try:
        counts = load(source, schema_version=int(manifest["database"]["schema_version"] or 0),
                      head=discover()[-1].version, force=force)
    except SnapshotRefused as exc:
        raise click.ClickException(str(exc)) from None
    for name, data in members.items():
        if name.startswith("media/"):
            target = conf.instance_path / name.removeprefix("media/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    say(f"  附件已恢复：{sum(name.startswith('media/') for name in members)} 个")
    (conf.instance_path / "restored-settings.json").write_bytes(members["settings.json"])
    return counts


@click.command("backup")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the .tar.gz (default: instance/backups/permit-<UTC time>.tar.gz)")
def backup(out):
    """Write a consistent snapshot (database rows, uploaded media, settings without secrets) while running."""
    conf = current_settings()
    out = out or conf.instance_path / "backups" / f"permit-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.tar.gz"
    from .progress import say
    manifest = write_backup(out, conf, say)
    rows = sum(manifest["database"]["tables"].values())
    click.echo(f"已备份：{out}（数据库第 {manifest['database']['schema_version']} 版，{rows} 行，"
               f"{manifest['media_files']} 个附件文件）")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace the rows of a database that is not empty")
def restore(file, force):
    """Restore a backup into an empty database (checksums checked first); then run verify-audit."""
    from .progress import say
    counts = restore_backup(file, current_settings(), force=force, say=say)
    click.echo(f"已恢复 {sum(counts.values())} 行、{len(counts)} 张表；请运行 python app.py verify-audit 核对审计链")
