"""The permit commands: act on permits as a named person, as a phone would."""
from __future__ import annotations

from pathlib import Path

import click

from models import Person
from models.permit import Permit
from workflow import WorkflowError, engine, template as templates, work
from workflow.drafts import create_permit

from handlers.chat.show import describe, todo_lines

from .common import current_settings as _settings, person as _person, when as _when


def _report(outcome) -> None:
    from workflow.states import LABELS
    click.echo(f"{outcome.permit_no} → {LABELS[outcome.state]}（版本 {outcome.version}）"
               + (f"  {outcome.detail}" if outcome.detail else ""))
    for note in outcome.notifications:
        click.echo(f"  通知 {Person.get_by_id(note.person_id).name} [{note.kind}] {note.text}")


class PermitGroup(click.Group):
    """Turn the engine's named refusals into a plain message and exit code 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WorkflowError as exc:
            raise click.ClickException(exc.message) from None


@click.group("permit", cls=PermitGroup)
def permit_cli() -> None:
    """Act on permits as a named person (--as ACCOUNT)."""


AS = click.option("--as", "account", required=True, help="姓名、企业微信或钉钉账号、手机号，或姓名拼音")


@permit_cli.command("new")
@click.argument("work_type")
@AS
@click.option("--location", required=True)
@click.option("--content", required=True)
@click.option("--start", "start_text", required=True, help="2026-11-24 08:00 (plant time)")
@click.option("--end", "end_text", required=True)
@click.option("--crew", required=True, help="accounts, comma separated")
@click.option("--guardian", "guardians", required=True, help="accounts, comma separated")
@click.option("--medium", default=None)
@click.option("--set", "pairs", multiple=True, help="a type field, by label or key: 级别=一级")
def new_permit(work_type, account, location, content, start_text, end_text, crew, guardians,
               medium, pairs):
    """Create a draft permit of WORK_TYPE (code or Chinese name)."""
    t = templates.get(work_type)
    attributes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip()
        if key == "级别" and t.grading.by != "none":
            key = t.grading.attribute  # 级别 carries the grade, the height or the load, as the type needs
        field = next((f for f in t.fields if key in (f.key, f.label)), None)
        if field is None:
            raise click.ClickException(f"{t.name}没有“{key}”这一项，可填：{'、'.join(f.label for f in t.fields)}")
        attributes[field.key] = value.strip()
    permit = create_permit(
        t.code, applicant=_person(account), location=location, content=content,
        planned_start=_when(start_text), planned_end=_when(end_text), attributes=attributes,
        crew=[_person(a) for a in crew.split(",")], guardians=[_person(a) for a in guardians.split(",")],
        medium=medium)
    click.echo(f"已创建草稿 {permit.no}（{t.name}），提交：python app.py permit submit {permit.no} --as {account}")


def _simple(name: str, func, help_text: str, *, reason: bool = False):
    @click.argument("permit_no")
    @AS
    def command(permit_no, account, **kwargs):
        _report(func(permit_no, by=_person(account), **kwargs))
    command.__doc__ = help_text
    if reason:
        command = click.option("--reason", required=True)(command)
    permit_cli.command(name)(command)


_simple("submit", engine.submit, "Submit a draft for approval.")
_simple("checkin", engine.check_in, "Check in at the work site (现场签到).")
_simple("checkout", engine.check_out, "Leave the work site (离开现场); a guardian leaving suspends the work.")
_simple("start", engine.start, "Confirm the on-site start (作业开始).")
_simple("complete", engine.complete, "Confirm the work complete (完工).")
_simple("accept", engine.accept, "Accept the finished work (验收).")
_simple("close", engine.close, "Close the permit (关闭).")
_simple("resume", work.resume, "Resume suspended work (恢复作业).")
_simple("rectified", work.rectified, "Report the rectification done (整改完成).")
_simple("cancel", engine.cancel, "Cancel a permit that has not started (取消).", reason=True)
_simple("suspend", work.suspend, "Suspend running work (暂停).", reason=True)


@permit_cli.command("board")
@click.argument("permit_no")
@click.option("--qr", "qr_file", type=click.Path(dir_okay=False), default=None,
              help="save the site QR code as this PNG file")
def board(permit_no, qr_file):
    """Print the signed links of PERMIT_NO's board, site QR code and printable permit."""
    from cards import links
    from handlers.web.board import qr_png
    permit = Permit.get_or_none(Permit.no == permit_no)
    if permit is None or links.opened(permit_no, {"t": links.token(permit, "view")}, ("view",)) is None:
        raise click.ClickException(f"作业票 {permit_no} 没有可用的现场公示牌（草稿、不存在或已过保留期）")
    click.echo(f"现场公示牌：{links.url(permit)}")
    click.echo(f"现场二维码内容（扫码签到）：{links.url(permit, 'site')}")
    click.echo(f"打印作业票：{links.url(permit, 'print', path='/print')}")
    if qr_file:
        Path(qr_file).write_bytes(qr_png(links.url(permit, "site")))
        click.echo(f"二维码已保存：{qr_file}")


@permit_cli.command("sign")
@click.argument("permit_no")
@click.argument("step")
@AS
@click.option("--tick", "ticks", multiple=True, help="a checklist item; 'all' ticks every item")
@click.option("--comment", default="")
def sign(permit_no, step, account, ticks, comment):
    """Sign STEP (同意 / 确认 / 提交勾选) of PERMIT_NO."""
    if list(ticks) == ["all"]:
        permit = Permit.get_or_none(Permit.no == permit_no)
        ticks = templates.get(permit.work_type).step(step).checklist if permit else ()
    _report(engine.sign(permit_no, step, by=_person(account), ticks=list(ticks), comment=comment))


@permit_cli.command("reject")
@click.argument("permit_no")
@click.argument("step")
@AS
@click.option("--reason", required=True)
@click.option("--revise", is_flag=True, help="return for revision (退回修改) instead of rejecting")
def reject(permit_no, step, account, reason, revise):
    """Reject the permit at STEP (驳回), or return it for revision with --revise."""
    command = engine.return_for_revision if revise else engine.reject
    _report(command(permit_no, step, by=_person(account), reason=reason))


@permit_cli.command("gas")
@click.argument("permit_no")
@click.argument("values")
@AS
def gas_reading(permit_no, values, account):
    """Record a gas reading: "O2=20.9 EX=0.1 H2S=0 CO=0" (EX in %LEL, H2S/CO in mg/m³)."""
    from workflow.gas import parse_values
    try:
        parsed = parse_values(values)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _report(work.record_gas(permit_no, by=_person(account), values=parsed))


@permit_cli.command("attach")
@click.argument("permit_no")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@AS
@click.option("--kind", required=True, help="what the photo shows, e.g. 灭火器")
def attach(permit_no, file, account, kind):
    """Attach a photo or file to the permit."""
    _report(work.attach(permit_no, by=_person(account), kind=kind, data=file.read_bytes(),
                        filename=file.name))


@permit_cli.command("rectify")
@click.argument("permit_no")
@AS
@click.option("--reason", required=True)
@click.option("--deadline", required=True, help="2026-11-24 18:00 (plant time)")
def rectify(permit_no, account, reason, deadline):
    """Refuse acceptance and ask for rectification by a deadline (验收不通过)."""
    _report(work.reject_acceptance(permit_no, by=_person(account), reason=reason,
                                   deadline=_when(deadline)))


@permit_cli.command("change")
@click.argument("permit_no")
@AS
@click.option("--end", "end_text", default=None, help="new planned end (延期)")
@click.option("--crew", default=None)
@click.option("--guardian", "guardians", default=None)
@click.option("--reason", required=True)
def change(permit_no, account, end_text, crew, guardians, reason):
    """Request a change of time or people; the permit is approved again."""
    changes = {}
    if end_text:
        changes["planned_end"] = _when(end_text)
    if crew:
        changes["crew"] = [_person(a) for a in crew.split(",")]
    if guardians:
        changes["guardians"] = [_person(a) for a in guardians.split(",")]
    _report(work.request_change(permit_no, by=_person(account), changes=changes, reason=reason))


@permit_cli.command("expire-due")
def expire_due():
    """Expire every permit past its validity."""
    for outcome in work.expire_due():
        _report(outcome)


@permit_cli.command("show")
@click.argument("permit_no")
def show(permit_no):
    """Show a permit's content, steps, signatures and gas readings."""
    permit = Permit.get_or_none(Permit.no == permit_no)
    if permit is None:
        raise click.ClickException(f"没有编号为 {permit_no} 的作业票")
    click.echo(describe(permit, _settings().plant_tz))


@permit_cli.command("todo")
@AS
def todo(account):
    """List what waits for a person, oldest first."""
    for line in todo_lines(_person(account), _settings().plant_tz) or ["没有待办"]:
        click.echo(line)
