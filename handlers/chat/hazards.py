"""Chat commands of hazards: 隐患, 指派, 开始整改, 整改完成 YH-…, 复查, and the anonymous 举报 / 举报查询 / 举报处理."""
from __future__ import annotations

import re

import settings
from bot.base import ANONYMOUS, Event
from hazards import anonymous, audits, findings
from models import Person, transaction, utcnow
from models.hazard import GRADES, ORDINARY
from workflow import WorkflowError, audit
from workflow.clock import parse_local

FINDING_NO = re.compile(r"YH-\d{8}-\d{4}", re.IGNORECASE)
YES = ("是", "yes", "y", "1", "true")
HELP = """隐患 区域 描述 —— 随手拍隐患，再发送现场照片；可换行写“等级: 重大”“类别: 消防”“停止作业: 是”
指派 隐患编号 责任人账号 2026-11-25 18:00 —— 安全员指派整改责任人和期限
开始整改 隐患编号 / 整改完成 隐患编号 说明 —— 责任人整改，完成前发送整改后的照片
复查 隐患编号 通过 / 复查 隐患编号 不通过 原因 —— 发现人现场复查
举报 [区域] 内容 —— 匿名举报，系统不记录举报人；回复的查询码请自行保存
举报查询 查询码 —— 查看匿名举报的处理情况
举报处理 号码 立案 [重大] / 举报处理 号码 不予立案 理由 —— 安全管理部门处理举报
抽查 编号 合格 / 抽查 编号 不合格 项目序号 说明 —— 安全员现场扫码签到后记录每日随机抽查结果"""


def _finding_no(text: str) -> str:
    found = FINDING_NO.search(text)
    if not found:
        raise WorkflowError("请写明隐患编号，例如 YH-20261124-0001")
    return found.group(0).upper()


def _refused(person: Person, event: Event, command: str, exc: WorkflowError, reply) -> None:
    """Audit the refusal (no permit to hang it on) and tell the person, plainly."""
    with transaction():
        audit.append(permit_no=None, actor=person.label(), action="refused",
                     data={"command": command, "reason": exc.message, "channel": event.platform}, at=utcnow())
    reply(f"未办理：{exc.message}")


def _guarded(command: str, act):
    def handle(head, lines, person, reply, event) -> None:
        try:
            act(head, lines, person, reply)
        except WorkflowError as exc:
            _refused(person, event, command, exc, reply)
    return handle


def _options(lines: list[str]) -> findings.Options:
    fields = {}
    for line in lines:
        key, sep, value = line.replace("：", ":").partition(":")
        if not sep:
            raise WorkflowError(f"看不懂“{line.strip()}”，请写成“字段: 值”")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"等级", "类别", "停止作业"}
    if unknown:
        raise WorkflowError(f"不认识的字段：{'、'.join(sorted(unknown))}（可写 等级、类别、停止作业）")
    grade = fields.get("等级", ORDINARY).removesuffix("隐患")
    if grade not in GRADES:
        raise WorkflowError(f"等级只能是 {' / '.join(GRADES)}")
    blocks = fields.get("停止作业", "").lower() in YES   # only a 重大 one may: findings.report says so
    return findings.Options(grade=grade, category=fields.get("类别", ""), blocks_permits=blocks)


def _report(head, lines, person, reply) -> None:
    options = _options(lines)
    f = findings.report(head.partition(" ")[2], by=person, options=options)
    held = "，关闭前该区域不能办理新的作业票" if f.blocks_permits else ""
    reply(f"已登记隐患 {f.no}（{f.grade}）：{f.place} {f.description}{held}\n"
          f"请发送现场照片；安全员指派整改后会通知责任人")


def _assign(head, _lines, person, reply) -> None:
    parts = head.split()
    if len(parts) != 5:
        raise WorkflowError("格式：指派 隐患编号 责任人账号 2026-11-25 18:00")
    _, no, account, day, hour = parts
    try:
        deadline = parse_local(f"{day} {hour}", settings.current().plant_tz)
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None
    f = findings.assign(_finding_no(no), account, deadline, by=person)
    reply(f"{f.no} 已指派 {f.responsible.name} 整改，期限 {findings.when(f.deadline)}")


def _start(head, _lines, person, reply) -> None:
    f = findings.start(_finding_no(head), by=person)
    reply(f"{f.no} 整改中。整改后请发送现场照片，再发送“整改完成 {f.no} 整改说明”")


def _rectified(head, _lines, person, reply) -> None:
    no = _finding_no(head)
    note = head.split(maxsplit=2)[2] if len(head.split(maxsplit=2)) == 3 else ""
    f = findings.rectify(no, note, by=person)
    reply(f"{f.no} 已报整改完成，等待 {(f.found_by or f.assigned_by).name} 复查")


def _recheck(head, _lines, person, reply) -> None:
    parts = head.split(maxsplit=3)
    if len(parts) < 3 or parts[2] not in ("通过", "不通过"):
        raise WorkflowError("格式：复查 隐患编号 通过 / 复查 隐患编号 不通过 原因")
    passed = parts[2] == "通过"
    f = findings.recheck(_finding_no(parts[1]), passed, parts[3] if len(parts) > 3 else "", by=person)
    reply(f"{f.no} 复查通过，已关闭" if passed else f"{f.no} 复查不通过，已退回 {f.responsible.name} 重新整改")


def _audit(head, _lines, person, reply) -> None:
    parts = head.split(maxsplit=3)
    if len(parts) < 3 or parts[2] not in ("合格", "不合格"):
        raise WorkflowError("格式：抽查 编号 合格 / 抽查 编号 不合格 项目序号 说明")
    row = audits.record(parts[1], parts[2] == "合格", parts[3] if len(parts) > 3 else "", by=person)
    if row.finding is None:
        reply(f"{parts[1]} 抽查合格，已记录")
    else:
        reply(f"{parts[1]} 抽查不合格，已登记隐患 {row.finding.no}，请指派整改：指派 {row.finding.no} 责任人账号 期限")


def rectified_or_permit(permit_command):
    """整改完成 names either a finding (YH-…) or a permit whose acceptance failed."""
    finding = _guarded("hazard_rectified", _rectified)

    def handle(head, lines, person, reply, event) -> None:
        if FINDING_NO.search(head):
            return finding(head, lines, person, reply, event)
        return permit_command(head, lines, person, reply, event)
    return handle


def _triage(head, _lines, person, reply) -> None:
    parts = head.split(maxsplit=3)
    if len(parts) < 3 or not parts[1].lstrip("#").isdigit() or parts[2] not in ("立案", "不予立案"):
        raise WorkflowError("格式：举报处理 号码 立案 [重大] / 举报处理 号码 不予立案 理由")
    report_id, rest = int(parts[1].lstrip("#")), parts[3] if len(parts) > 3 else ""
    if parts[2] == "立案":
        grade = rest.strip() or ORDINARY
        f = anonymous.accept(report_id, by=person, grade=grade.removesuffix("隐患"))
        reply(f"第 {report_id} 号举报已立为隐患 {f.no}，请指派整改：指派 {f.no} 责任人账号 期限")
    else:
        anonymous.dismiss(report_id, rest, by=person)
        reply(f"第 {report_id} 号举报不予立案，理由已记录，举报人可凭查询码查看")


# Anonymous commands are given the words and the address to answer, never the person: they cannot
# store who sent them. Their answers go straight to the account through a job, not the outbox.
def _answer(event: Event, text: str) -> str:
    from jobs.hazards import queue_anonymous_answer
    queue_anonymous_answer(event.platform, event.user_id, text)
    return ANONYMOUS


def report_anonymously(words: str, event: Event) -> str:
    try:
        code, _ = anonymous.submit(words)
    except WorkflowError as exc:
        return _answer(event, f"未提交：{exc.message}")
    return _answer(event, f"匿名举报已收到，系统不记录举报人。查询码：{code}\n"
                          f"请自行保存，发送“举报查询 {code}”查看处理情况；查询码遗失无法找回")


def check_report(words: str, event: Event) -> str:
    return _answer(event, anonymous.status(words))


COMMANDS = {"隐患": _guarded("hazard_report", _report), "指派": _guarded("hazard_assign", _assign),
            "开始整改": _guarded("hazard_start", _start), "复查": _guarded("hazard_recheck", _recheck),
            "举报处理": _guarded("report_triage", _triage), "抽查": _guarded("permit_audit", _audit)}
ANONYMOUS_COMMANDS = {"举报": report_anonymously, "举报查询": check_report}
