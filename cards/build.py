"""Build the neutral card one person gets for one notification, reading the permit from the database."""
from __future__ import annotations

from dataclasses import replace

from datetime import datetime, timedelta

import settings
from models import Signature, Step, utcnow
from models.permit import Permit
from models.tool import Tool
from workflow import machine, simops, template as templates
from workflow.clock import local
from workflow.errors import NotFound
from workflow.rules import UNGRADED
from workflow.states import IN_APPROVAL, LABELS
from workflow.template import StepDef, Template

from . import actions, links
from .card import DANGER, PRIMARY, SECONDARY, Button, Card, Field, Link

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
NOTIFICATION_KINDS = ("act", "info", "stop", "outcome")
LAST_SIGNERS = 3
# What each of a step's template actions looks like as a button; rectify (验收不通过) needs a
# deadline and a reason, so it is not a one-click button.
BUTTONS = {"approve": ("同意", PRIMARY), "confirm": ("确认", PRIMARY),
           "return": ("退回修改", SECONDARY), "reject": ("驳回", DANGER)}
ASK = {"approve": "待您审批", "confirm": "待您确认", "checklist": "待您逐项确认", "gas": "待您气体检测"}


ROUTINE = "请办理"   # the text of a step's first card (workflow.machine.activate)


class NoPermit(NotFound):
    """The notification names a permit that does not exist, so there is no card to show."""


def card_for(permit_no: str, *, person_id: int, kind: str, step: str | None, text: str,
             public_base_url: str = DEFAULT_BASE_URL, now: datetime | None = None,
             serial: int | None = None) -> Card:
    """Return the card person_id should see for a notification of kind about permit_no's step.

    serial (e.g. the outbox row id) makes the task_id unique when the same card is sent twice.
    """
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not permit_no or (permit := Permit.get_or_none(Permit.no == permit_no)) is None:
        raise NoPermit(f"没有编号为 {permit_no} 的作业票")
    t = templates.get(permit.work_type)
    view = _View(permit, t, now or utcnow(), public_base_url, serial)
    if kind == "act":
        card = view.act(person_id, step)
        if text and not text.startswith(ROUTINE) and card.kind != "outcome":
            # A reminder or an escalation says so first; a step's first card needs no preface.
            card = replace(card, notice=f"{text}\n{card.notice}".strip())
        return card
    if kind == "stop":
        return view.plain("stop", person_id, step, "立即停止作业", text)
    if kind == "outcome":
        row = _step(permit, step) if step else None
        return view.plain("outcome", person_id, step, f"已办理：{row.name}" if row else "已办理", text)
    return view.plain("notice", person_id, step, f"作业票通知 · {LABELS[permit.state]}", text)


def task_id(permit_no: str, *, step: str | None, person_id: int, version: int, round: int | None = None,
            kind: str = "act", serial: int | None = None) -> str:
    """Return a card's task id: unique per person and permit version, in WeCom's alphabet."""
    head = f"{permit_no}-{step}-r{round}" if kind == "act" else f"{permit_no}-{kind}-{step or 'permit'}"
    # Permit numbers and step keys are ≤32 characters of [A-Za-z0-9_-], so this stays far below
    # WeCom's 128 bytes; the renderer checks it anyway rather than cut it into a possible duplicate.
    return f"{head}-p{person_id}-v{version}" + (f"-n{serial}" if serial is not None else "")


def _step(permit: Permit, key: str) -> Step:
    row = Step.get_or_none((Step.permit == permit) & (Step.key == key))
    if row is None:
        raise ValueError(f"作业票 {permit.no} 没有“{key}”步骤")
    return row


class _View:
    """One permit as of now, seen by the card builder."""

    def __init__(self, permit: Permit, t: Template, now: datetime, base_url: str, serial: int | None):
        self.permit, self.t, self.now, self.serial = permit, t, now, serial
        self.tz = settings.current().plant_tz
        self.base_url = base_url
        self.url = links.url(permit, base_url=base_url) if base_url else ""
        self.active = machine.active_step(permit)

    # -- the kinds of card -------------------------------------------------------------------
    def act(self, person_id: int, key: str | None) -> Card:
        if not key:
            raise ValueError("an act card needs a step")
        step = _step(self.permit, key)
        d = self.t.step(key)
        people = machine.assignees(step) if step.state == "active" else []
        if person_id not in {p.id for p in people}:
            return self.plain("outcome", person_id, key, f"已办理：{step.name}", self._settled(step))
        mine = [s for s in machine.signatures(step) if s.person_id == person_id]
        if mine:
            return self.plain("outcome", person_id, key, f"已办理：{step.name}",
                              f"您已于 {self._at(mine[-1].signed_at)} {_decision(mine[-1])}，等待其他人签字")
        common = dict(task_id=self._task_id("act", key, person_id, step.round),
                      title=f"{ASK[d.kind]}：{step.name}", subtitle=self._subtitle(),
                      fields=self._fields(step), url=self.url)
        if d.kind == "gas":
            return Card(kind="notice", buttons=(), notice=self._gas_hint(), **common)
        # Keys carry the step's round: a card goes stale when its step is opened again, not when
        # a colleague co-signs (which moves the permit's version on).
        version, no = step.round, self.permit.no
        refusals = self._refusals(d, version)
        if d.kind == "checklist":
            submit = actions.key("submit", no, key, version)
            return Card(kind="checklist", buttons=(Button("提交", submit, PRIMARY),) + refusals,
                        checklist=d.checklist, checklist_key=submit,
                        notice=self._hints(step, d) or "请逐项核对，全部勾选后提交", **common)
        yes = "approve" if d.kind == "approve" else "confirm"
        label, style = BUTTONS[yes]
        return Card(kind="sign", buttons=(Button(label, actions.key(yes, no, key, version), style),)
                    + refusals, notice=self._hints(step, d), **common)

    def plain(self, kind: str, person_id: int, key: str | None, title: str, text: str) -> Card:
        """Return a card without buttons: notice, stop or outcome."""
        return Card(kind=kind, task_id=self._task_id(kind, key, person_id), title=title,
                    subtitle=self._subtitle(), fields=self._fields(), buttons=(), url=self.url,
                    notice=text, links=self._site_links(person_id))

    # -- what every card shows ---------------------------------------------------------------
    def _fields(self, step: Step | None = None) -> tuple[Field, ...]:
        current = step or self.active
        return (Field("编号", self.permit.no), Field("类型", self.type_and_grade()),
                Field("地点", self.permit.location), Field("时间", self.window()),
                Field("步骤", current.name if current else LABELS[self.permit.state]),
                Field("已等待", self.waited()), Field("已签", self.signed_before()))

    def type_and_grade(self) -> str:
        grade = self.permit.grade
        return self.t.name if grade in (None, "", UNGRADED) else f"{self.t.name} {grade}"

    def window(self) -> str:
        start = local(self.permit.planned_start, self.tz)
        end = local(self.permit.planned_end, self.tz)
        return f"{start:%m-%d %H:%M} – {end:%H:%M}" if start.date() == end.date() \
            else f"{start:%m-%d %H:%M} – {end:%m-%d %H:%M}"

    def waited(self) -> str:
        since = self.permit.submitted_at
        if since is None:
            return "未提交"
        return duration((self.permit.closed_at or self.now) - since)

    def signed_before(self) -> str:
        rows = list(Signature.select().where(Signature.permit == self.permit)
                    .order_by(Signature.id.desc()).limit(LAST_SIGNERS))
        return "；".join(f"{s.person.name} {_decision(s)} {self._at(s.signed_at)}"
                        for s in reversed(rows)) or "—"

    # -- helpers -----------------------------------------------------------------------------
    def _subtitle(self) -> str:
        content = self.permit.content
        return content if len(content) <= 40 else content[:39] + "…"

    def _at(self, moment: datetime) -> str:
        at, today = local(moment, self.tz), local(self.now, self.tz).date()
        return f"{at:%H:%M}" if at.date() == today else f"{at:%m-%d %H:%M}"

    def _task_id(self, kind: str, key: str | None, person_id: int, round: int | None = None) -> str:
        return task_id(self.permit.no, step=key, person_id=person_id, version=self.permit.version,
                       round=round, kind=kind, serial=self.serial)

    def _site_links(self, person_id: int) -> tuple[Link, ...]:
        """Give the site's QR code to those who post it there: the applicant and the guardians.

        Not to approvers: a QR code on their phone could be scanned off the screen, far from the site.
        """
        if not self.base_url or person_id not in {self.permit.applicant_id} | {
                p.id for p in machine.members(self.permit, "监护人")}:
            return ()
        return (Link("现场二维码", links.url(self.permit, "print", path="/qr.png", base_url=self.base_url)),
                Link("打印作业票", links.url(self.permit, "print", path="/print", base_url=self.base_url)))

    def _refusals(self, d: StepDef, version: int) -> tuple[Button, ...]:
        """Return 退回修改 / 驳回 where the template and the permit's state allow them."""
        if self.permit.state != IN_APPROVAL:
            return ()
        allowed = [a for a in ("return", "reject") if a in d.actions]
        if self.permit.issued_at:  # an issued permit is never sent back to draft (engine rule)
            allowed = [a for a in allowed if a != "return"]
        return tuple(Button(BUTTONS[a][0], actions.key(a, self.permit.no, d.key, version), BUTTONS[a][1])
                     for a in allowed)

    def _hints(self, step: Step, d: StepDef) -> str:
        """Say what the step demands before a click counts, so nobody learns it from a refusal."""
        # First: an approver must know what else works in the same place at the same time.
        hints = [f"交叉作业 {line}" for line in simops.overlapping_lines(self.permit)] if d.phase == "approve" else []
        if d.onsite:
            hints.append(f"请先到现场扫码签到（{self.t.checkin_minutes} 分钟内有效）")
        elif d.phase == "approve":
            hints.append(f"本步骤可不到现场审批：{d.onsite_waiver}")
        if d.gates.checkins:
            hints.append(f"须{'、'.join(d.gates.checkins)}现场扫码签到（{self.t.checkin_minutes} 分钟内有效）")
        if d.gates.photos:
            hints.append(f"须有现场照片：{'、'.join(d.gates.photos)}")
        if d.gates.gas_fresh:
            hints.append(f"须有 {self.t.gas.fresh_minutes or 30} 分钟内合格的气体分析")
        if d.gates.tools and Tool.in_force():
            hints.append(_tools_hint(d))
        if d.phase == "start" and settings.current().meeting_before_start:
            hints.append("须作业负责人召开当天班前会，班组全员扫码签到并确认参会")
        from faces.gate import how_to_selfie, required as face_checked
        if face_checked(self.t.code, d.key):
            hints.append(f"须人脸核验：签字前请{how_to_selfie().removeprefix('请先').removeprefix('请')}")
        if d.mode == "all":
            people = machine.assignees(step)
            signed = len(machine.signatures(step))
            hints.append(f"会签：{len(people)} 人均须签字，已签 {signed} 人")
        return "；".join(hints)

    def _gas_hint(self) -> str:
        required = "、".join(self.t.gas.required) or "EX"
        step = next(d for d in self.t.steps if d.kind == "gas")
        first = f"{_tools_hint(step)}；" if step.gates.tools and Tool.in_force() else ""
        return (f"{first}请现场检测后在对话中发送：气体检测 {self.permit.no} O2=.. EX=.. H2S=.. CO=..（本作业必测："
                f"{required}；O2 %vol，EX %LEL，H2S、CO mg/m³）")

    def _settled(self, step: Step) -> str:
        done = machine.signatures(step, decisions=tuple(machine.DECISION_LABELS))
        if done and step.state != "active":
            return machine.outcome_text(step, done[-1])
        current = self.active.name if self.active else LABELS[self.permit.state]
        return f"“{step.name}”已不需要您办理，当前：{current}"


def _tools_hint(d: StepDef) -> str:
    return f"须先扫码领用检验合格的{'、'.join(d.gates.tools)}（扫工器具上的二维码）"


def _decision(signature: Signature) -> str:
    return machine.DECISION_LABELS.get(signature.decision, signature.decision)


def duration(delta: timedelta) -> str:
    """Say a wait the way a person would: 5 分钟, 1 小时 05 分, 2 天 03 小时."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours:02d} 小时"
    if hours:
        return f"{hours} 小时 {mins:02d} 分"
    return f"{mins} 分钟"
