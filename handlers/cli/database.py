"""The database and org commands: schema, org and detector workbooks, detector keys, faces, the audit chain."""
from __future__ import annotations

from pathlib import Path

import click

from .common import person as _person


@click.command("init-db")
def init_db():
    """Create or upgrade the database schema."""
    from models.schema import upgrade
    for line in upgrade():
        click.echo(line)


def _import_workbook(load, report, file: Path) -> None:
    """Print report(load(file)), or the workbook's errors with exit code 1 and nothing written."""
    from exports.workbook import WorkbookError
    from .progress import say
    # One transaction, all or nothing: what can be told is that it started, not how far it got.
    say(f"  正在读取并检查 {file.name}（全部正确才会写入）…")
    try:
        click.echo(report(load(file)))
    except WorkbookError as exc:
        raise click.ClickException(str(exc)) from None


WORKBOOK = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.command("load-org")
@WORKBOOK
@click.option("--photos", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="folder of the face photos named in the 人员 sheet's 照片 column (default: the workbook's)")
def load_org_command(file, photos):
    """Import departments and people from the org workbook (部门 / 人员, optional 证书 / 承包商 sheets)."""
    from functools import partial
    from exports.org_import import format_report, load_org
    _import_workbook(partial(load_org, photos=photos), format_report, file)


@click.command("load-sensors")
@WORKBOOK
def load_sensors_command(file):
    """Register or update gas detectors from the detector workbook (检测仪 sheet)."""
    from exports.sensor_import import format_report, load_sensors
    _import_workbook(load_sensors, format_report, file)


@click.command("load-inspections")
@WORKBOOK
def load_inspections_command(file):
    """Create or update inspection plans from the inspection-plan workbook (巡检计划 sheet)."""
    from exports.inspection_import import format_report, load_inspections
    _import_workbook(load_inspections, format_report, file)


@click.command("load-knowledge")
@click.argument("path", type=click.Path(exists=True), required=False)
def load_knowledge_command(path):
    """Load the safety knowledge base from a Markdown entry or a folder of them (default: the samples)."""
    from exports import knowledge
    from handlers.demo.demo import KNOWLEDGE
    try:
        created, updated = knowledge.load(path or KNOWLEDGE)
    except knowledge.KnowledgeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"知识库：新增 {created} 条，更新 {updated} 条")


@click.command("load-training")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
def load_training_command(file):
    """Load training courses and their question banks from the course workbook (default: the sample)."""
    from handlers.demo.demo import COURSES
    from training.workbook import format_report, load
    _import_workbook(load, format_report, file or COURSES)


@click.command("sensor-rekey")
@click.argument("code")
def sensor_rekey(code):
    """Give detector CODE a new secret and print it once; the old secret stops working."""
    from exports.sensor_import import UnknownSensor, rekey_sensor
    try:
        secret = rekey_sensor(code)
    except UnknownSensor as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{code.strip()}  secret={secret}")
    click.echo("新密钥仅此一次显示，请立即配置到检测仪上；旧密钥已失效。")


@click.command("enrol-face")
@click.argument("account")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def enrol_face(account, photo):
    """Enrol ACCOUNT's reference face from PHOTO (one face, front on) for face-checked signatures."""
    from faces.enrol import enrol
    from faces.match import FaceRefused
    person = _person(account)
    try:
        enrol(person, photo.read_bytes(), source="cli")
    except FaceRefused as exc:
        raise click.ClickException(f"未采集：{exc.reason}") from None
    click.echo(f"已采集 {person.name} 的人脸")


@click.command("verify-audit")
def verify_audit():
    """Check the audit chain; print OK or name the first broken event."""
    from workflow.audit import verify
    report = verify()
    click.echo(report.text())
    if not report.ok:
        raise SystemExit(1)


@click.command("seal-audit")
def seal_audit():
    """Bring a chain written before the audit key under it, once; then checkpoint its head."""
    from workflow.sealing import NotSealed, seal
    try:
        for line in seal():
            click.echo(line)
    except NotSealed as exc:
        click.echo(f"NOT SEALED: {exc.message}", err=True)
        raise SystemExit(1) from None


@click.command("audit-checkpoint")
def audit_checkpoint():
    """Append a signed checkpoint of the audit chain's head to the checkpoint file."""
    from workflow.checkpoints import write
    point = write()
    click.echo(f"checkpoint of event #{point.seq} ({point.hash[:16]}…)" if point else "the chain is empty")
