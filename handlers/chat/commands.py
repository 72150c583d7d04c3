"""Text commands typed in chat: apply, to-do, query, copy, submit, edit, gas reading, reject with reason."""
from __future__ import annotations

import re
from datetime import datetime

import settings
from bot.base import Event
from cards import links
from exports import knowledge
from models import Conversation, Outbox, Person, Step, transaction, utcnow
from models.people import Ambiguous, NameProblem, resolve
from models.permit import Permit
from sensors import watch
from workflow import NotCertified, WorkflowError, audit, engine, template as templates, work
from workflow.clock import parse_local
from workflow.drafts import create_permit
from workflow.gas import parse_values
from workflow.machine import record_refusal

from . import changes as change_commands, forms
from . import hazards
from . import lockout
from .namesakes import ask_which
from .emergency import COMMANDS as EMERGENCY_COMMANDS
from .exporting import export_command
from .knowledge import COMMANDS as KNOWLEDGE_COMMANDS, entry_text
from .meeting import COMMANDS as MEETING_COMMANDS
from .replies import Replier
from .safety_tools import COMMANDS as TOOL_COMMANDS
from .show import describe, todo_lines
from .training import COMMANDS as TRAINING_COMMANDS, HELP as TRAINING_HELP

# WeCom cuts a text message at 2 048 bytes, so the help is an index and a page per topic, each within it.
HELP_TOPICS = {
    "申请": """申请作业：
申请动火作业 —— 按提示逐项填写（其他作业类型同理，如“申请受限空间作业”）；也可一条消息填完：
  申请动火作业
  地点: 3#罐区东侧管廊
  内容: DN100 管线法兰焊接
  级别: 二级
  介质: 甲烷
  开始: 2026-11-24 08:00
  结束: 2026-11-24 16:00
  作业人: 张三,李四
  监护人: 王五
人员可写姓名、账号、手机号或姓名拼音（如 zhangsan、zs）；作业人中第一位为作业负责人：开工前，监护人和作业负责人须扫描现场二维码签到
复制 编号 —— 以旧票为样板新建草稿
修改 编号（换行写“字段: 值”） / 提交 编号 —— 修改、提交草稿
取消 —— 放弃正在填写的申请
撤销 编号 理由 —— 撤销未开工的作业票""",
    "办理": """审批和变更：
待办 —— 等我办理的事项
查询 编号 —— 作业票状态和记录
驳回 编号 步骤 理由 / 退回 编号 步骤 理由
延期 编号 新结束时间 理由 —— 例如：延期 DH-20261124-0001 2026-11-24 20:00 焊口返修
变更 编号（换行写“作业人/监护人/开始/结束/措施: 值”和“理由: …”）—— 审批通过前按原作业票执行
不同意变更 编号 理由 —— 审批人不同意变更；原作业票照常有效
验收不通过 编号 期限 要求 —— 例如：验收不通过 DH-20261124-0001 2026-11-24 18:00 现场未清理
整改完成 编号
交接 编号 接班人 —— 作业负责人或监护人交接班""",
    "现场": """作业现场：
班前会 —— 作业负责人召开当天班前会：列出当天作业票及其风险、措施，班组扫码签到后在卡片上确认参会
气体检测 编号 O2=20.9 EX=0 H2S=0 CO=0 —— EX 单位 %LEL，O2 %vol，H2S、CO mg/m³
暂停 编号 原因 / 恢复 编号 —— 暂停作业；监护人确认恢复（间断超时须先复测气体）
绑定检测仪 编号 检测仪编号 / 解绑检测仪 编号 检测仪编号 —— 检测仪读数计入本票，报警通知本票人员
照片 编号 [种类] —— 下一张照片归入该作业票及其当前步骤（不写种类时按所缺照片或“现场”）
照片 点位 —— 下一张照片作为该隔离点位的照片（锁具和挂牌），显示在公示牌和隔离台账中
隔离 编号 点位 方式 锁号 / 隔离确认 编号 点位 / 解除隔离 点位 —— 能量隔离（上锁挂牌）
重发二维码 编号 —— 作废本票张贴的现场二维码并生成新码（申请人、安全员）
采集人脸 人员 —— 请此人发送自拍照登记人脸，用于签字时的人脸核验（系统管理员）
自拍 —— 签字须人脸核验时，获取用相机现场自拍的链接""",
    "应急": """应急：
应急 区域 情况 / 演练 区域 情况 —— 一键应急（演练）：暂停该区域进行中的作业，通知撤离
清点 区域 / 解除应急 区域 处置情况 —— 人员清点；解除后各作业票须复测、监护人确认后恢复""",
    "隐患": "隐患和举报：\n" + hazards.HELP,
    "其他": """培训、知识、工器具和导出：
知识 关键词 —— 查安全知识库：规章、事故案例、经验教训（例如：知识 受限空间 硫化氢）
工器具 编号 —— 安全工器具的检验是否有效、在谁手中，附扫码页面链接
""" + TRAINING_HELP + """导出 台账 2026-11 / 导出 月报 2026-11 —— 导出 Excel（管理员；发送“导出”查看全部用法）""",
}
HELP = """可用命令按类别查看，发送其中一项：
帮助 申请 —— 申请动火作业（其他作业类型同理）、复制、修改、提交、取消、撤销
帮助 办理 —— 待办、查询、驳回、退回、延期、变更、验收不通过、整改完成、交接
帮助 现场 —— 班前会、气体检测、暂停、恢复、绑定检测仪、照片、隔离、重发二维码、采集人脸、自拍
帮助 应急 —— 应急、演练、清点、解除应急
帮助 隐患 —— 隐患、指派、整改、复查、举报、抽查
帮助 其他 —— 知识、工器具、培训、导出
最常用：待办 —— 等我办理的事项；查询 编号 —— 作业票状态和记录"""


COLUMNS = ("location", "content", "medium", "planned_start", "planned_end")
NO = re.compile(r"[A-Z]{2,4}-\d{8}-\d{4}")


def handle_text(event: Event, person: Person) -> str:
    """Answer one text message; return a short word for the log."""
    reply = Replier(event, person)
    lines = [line for line in event.text.strip().splitlines() if line.strip()]
    head = lines[0].strip() if lines else ""
    word = head.split()[0] if head.split() else ""
    try:
        if word in ("帮助", "help", "?", "？"):
            topic = head[len(word):].strip()
            reply(HELP_TOPICS.get(topic) or HELP)
        elif word == "待办":
            reply("\n".join(todo_lines(person, settings.current().plant_tz)) or "没有待办事项")
        elif word == "取消" and head == "取消":
            Conversation.delete().where(Conversation.person == person).execute()
            reply("已放弃正在填写的申请")
        elif head.startswith("申请"):
            _start_application(head.removeprefix("申请").strip(), lines[1:], event, person, reply)
        elif word in hazards.ANONYMOUS_COMMANDS:
            # Handed the words and the address only, so nothing it stores can name the sender.
            return hazards.ANONYMOUS_COMMANDS[word](event.text.strip()[len(word):].strip(), event)
        elif word in COMMANDS:
            COMMANDS[word](head, lines[1:], person, reply, event)
        elif Conversation.get_or_none((Conversation.person == person) & (Conversation.intent == "apply")):
            _answer(head, person, reply)
        else:
            reply("没有听懂。发送“帮助”查看可用命令")
            return "not understood"
    except Ambiguous as exc:
        return ask_which(event, person, exc)
    except WorkflowError as exc:
        found = NO.search(head)
        record_refusal(found.group(0) if found else None, by=person, command=word, reason=exc.message,
                       channel=event.platform, tell=f"未办理：{exc.message}")
        if not found:
            reply(f"未办理：{exc.message}")
        return "refused"
    return word or "empty"


def _permit_no(head: str) -> str:
    found = NO.search(head)
    if not found:
        raise WorkflowError("请写明作业票编号，例如 DH-20261124-0001")
    return found.group(0)


def _query(head, _lines, person, reply, _event) -> None:
    no = _permit_no(head)
    permit = Permit.get_or_none(Permit.no == no)
    if permit is None:
        raise WorkflowError(f"没有编号为 {no} 的作业票")
    board = f"\n现场公示牌：{links.url(permit)}" if permit.state != "draft" else ""
    entries = knowledge.for_work_type(permit.work_type, limit=3)
    known = ("\n\n本类作业安全知识（发送“知识 关键词”查更多）：\n" + "\n".join(
        entry_text(e).splitlines()[0] for e in entries)) if entries else ""
    reply(describe(permit, settings.current().plant_tz) + board + known, permit_no=no)


def _site_code(permit_no: str) -> str:
    """Tell the applicant where the site's QR code is: people check in on site by scanning it."""
    permit = Permit.get(Permit.no == permit_no)
    return (f"\n现场二维码：{links.url(permit, 'print', path='/print')}"
            "\n请打印后张贴于作业现场：审批人、监护人和作业负责人到场扫码签到")


def _gas(head, _lines, person, reply, event) -> None:
    no = _permit_no(head)
    try:
        values = parse_values(head.split(no, 1)[1])
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None
    out = work.record_gas(no, by=person, values=values, channel=event.platform)
    reply(f"{no} 气体检测：{out.detail}", permit_no=no)


def _refuse(head, _lines, person, reply, event) -> None:
    parts = head.split(maxsplit=3)
    if len(parts) < 4:
        raise WorkflowError("格式：驳回 编号 步骤 理由")
    verb, no, step, reason = parts
    command = engine.reject if verb == "驳回" else engine.return_for_revision
    out = command(no, step, by=person, reason=reason, channel=event.platform)
    reply(f"{no} 已{verb}", permit_no=out.permit_no)


def _submit(head, _lines, person, reply, _event) -> None:
    out = engine.submit(_permit_no(head), by=person)
    reply(f"{out.permit_no} {out.detail}{_site_code(out.permit_no)}", permit_no=out.permit_no)


def _copy(head, _lines, person, reply, _event) -> None:
    old = Permit.get_or_none(Permit.no == _permit_no(head))
    if old is None:
        raise WorkflowError("没有这张作业票")
    attributes = {k: v for k, v in old.attributes.items() if templates.get(old.work_type).field(k)}
    new = create_permit(old.work_type, applicant=person, location=old.location, content=old.content,
                        medium=old.medium, planned_start=old.planned_start, planned_end=old.planned_end,
                        attributes=attributes, unit=old.unit, copied_from=old.no,
                        crew=[m.person for m in old.members if m.role == "作业人"],
                        guardians=[m.person for m in old.members if m.role == "监护人"])
    reply(f"已按 {old.no} 新建草稿 {new.no}。请发送“修改 {new.no}”并换行写“开始: …”“结束: …”，"
          f"再发送“提交 {new.no}”", permit_no=new.no)


def _edit(head, lines, person, reply, _event) -> None:
    permit = Permit.get_or_none(Permit.no == _permit_no(head))
    if permit is None:
        raise WorkflowError("没有这张作业票")
    answers, problems = forms.parse_form(templates.get(permit.work_type), lines)
    if problems or not answers:
        reply("未修改：" + ("；".join(problems) or "请换行写“字段: 值”"), permit_no=permit.no)
        return
    engine.edit_draft(permit.no, by=person, **_draft_fields(answers))
    reply(f"{permit.no} 草稿已修改。发送“提交 {permit.no}”提交审批", permit_no=permit.no)


def _draft_fields(answers: dict) -> dict:
    """Split checked answers into edit_draft's arguments."""
    fields = {k: answers[k] for k in COLUMNS if k in answers}
    for key in ("planned_start", "planned_end"):
        if key in fields:
            fields[key] = datetime.fromisoformat(fields[key])
    for key in ("crew", "guardians"):
        if key in answers:
            fields[key] = [resolve(a) for a in answers[key]]
    if "coordinator" in answers:
        fields["coordinator"] = resolve(answers["coordinator"])
    extra = {k: v for k, v in answers.items() if k not in COLUMNS and k not in ("crew", "guardians", "coordinator")}
    if extra:
        fields["attributes"] = extra
    return fields


def _start_application(type_name: str, lines: list[str], event: Event, person: Person, reply) -> None:
    t = templates.get(type_name)
    answers, problems = forms.parse_form(t, lines)
    if problems:
        reply("申请未提交：\n" + "\n".join(problems))
        return
    Conversation.delete().where(Conversation.person == person).execute()
    if forms.missing(t, answers):
        Conversation.create(person=person, platform=event.platform, intent="apply",
                            data={"work_type": t.code, "answers": answers})
        _ask_next(t, answers, reply)
        return
    _apply(t, answers, person, reply, platform=event.platform)


def _ask_next(t, answers: dict, reply) -> None:
    question = forms.missing(t, answers)[0]
    reply(f"请填写{question.label}" + (f"（{question.hint}）" if question.hint else "") + "。发送“取消”放弃")


def _answer(text: str, person: Person, reply) -> None:
    conversation = Conversation.get(Conversation.person == person)
    t = templates.get(conversation.data["work_type"])
    answers = conversation.data["answers"]
    question = forms.missing(t, answers)[0]
    try:
        answers[question.key] = forms.check(t, question.key, text)
    except Ambiguous:
        raise   # a card asks which namesake; the click answers this question again
    except ValueError as exc:
        reply(f"{question.label}：{exc}，请重新填写")
        return
    if (problem := forms.window_problem(t, answers)) is not None:
        reply(f"{problem}，请重新填写")
        return
    if forms.missing(t, answers):
        conversation.data, conversation.updated_at = {**conversation.data, "answers": answers}, utcnow()
        conversation.save()
        _ask_next(t, answers, reply)
        return
    conversation.delete_instance()
    _apply(t, answers, person, reply, draft_no=conversation.data.get("draft"), platform=conversation.platform)


def _apply(t, answers: dict, person: Person, reply, *, draft_no: str | None = None, platform: str = "") -> None:
    fields = _draft_fields(answers)
    crew, guardians = fields.pop("crew"), fields.pop("guardians")
    if draft_no:   # a replacement for someone refused for want of a certificate: the same draft
        engine.edit_draft(draft_no, by=person, crew=crew, guardians=guardians, **fields)
        permit = Permit.get(Permit.no == draft_no)
    else:
        permit = create_permit(t.code, applicant=person, crew=crew, guardians=guardians,
                               attributes=fields.pop("attributes", {}), **fields)
    try:
        out = engine.submit(permit.no, by=person)
    except NotCertified as exc:
        # Ask again for just the people refused, in the same conversation; the rest stays as answered.
        keys = {"作业人": "crew", "监护人": "guardians"}
        kept = {k: v for k, v in answers.items() if k not in {keys[role] for role in exc.roles}}
        Conversation.create(person=person, platform=platform, intent="apply",
                            data={"work_type": t.code, "answers": kept, "draft": permit.no})
        reply(f"草稿 {permit.no} 未能提交：{exc.message}", permit_no=permit.no)
        _ask_next(t, kept, reply)
        return
    except WorkflowError as exc:
        _audit_refusal(permit.no, person, exc.message, platform)
        reply(f"草稿 {permit.no} 已保存，但未能提交：{exc.message}\n"
              f"请发送“修改 {permit.no}”并换行写“字段: 值”，再发送“提交 {permit.no}”", permit_no=permit.no)
        return
    reply(f"{permit.no} {t.name} {out.detail}{_site_code(permit.no)}", permit_no=permit.no)


def _audit_refusal(permit_no: str, person: Person, reason: str, platform: str) -> None:
    """Put a refused submit into the audit chain, as a refused 提交 command is (交叉作业 names the other permits)."""
    with transaction():
        audit.append(permit_no=permit_no, actor=person.label(), action="refused",
                     data={"command": "submit", "reason": reason, "channel": platform}, at=utcnow())


def _selfie_link(_head, _lines, person, reply, _event) -> None:
    """Send the signer the camera page of the face check they are waiting on."""
    from faces.gate import awaiting
    from faces.live import url
    target = awaiting(person)
    if not isinstance(target, Step):
        raise WorkflowError("您当前没有需要人脸核验的签字")
    minutes = settings.current().face_capture_minutes
    reply(f"“{target.permit.no} {target.name}”须人脸核验：请用手机打开以下链接，用相机现场自拍"
          f"（相册照片不能使用，拍摄后 {minutes} 分钟内有效）：{url(person, target.permit, target)}")


def _enrol_face(head, _lines, person, reply, _event) -> None:
    """An admin asks someone for their enrolment selfie: their next photo in chat becomes their face."""
    from faces.enrol import request
    _, account = _words(head, 2, "采集人脸 账号")
    if "系统管理员" not in person.role_names():
        raise WorkflowError("只有系统管理员可以发起人脸采集")
    try:
        target = resolve(account)
    except Ambiguous:
        raise
    except NameProblem as exc:
        raise WorkflowError(exc.message) from None
    asked = request(target, by=person)
    (Outbox.insert(person=target, kind="reply", dedupe_key=f"face-request:{asked.id}",
                   payload={"kind": "reply", "text": f"{person.name} 请您在此对话中发送一张本人正面自拍照，"
                                                     "用于作业签字时的人脸核验"})
     .on_conflict_ignore().execute())
    reply(f"已请 {target.name} 发送自拍照，采集结果会通知本人")


def _words(head: str, count: int, usage: str) -> list[str]:
    parts = head.split(maxsplit=count - 1)
    if len(parts) < count:
        raise WorkflowError(f"格式：{usage}")
    return parts


def _when(text: str) -> datetime:
    try:
        return parse_local(text, settings.current().plant_tz)
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None


def _dated(head: str, usage: str) -> tuple[str, datetime, str]:
    """Read "命令 编号 日期 时间 文字" into (permit no, the time as naive UTC, the text)."""
    _, no, day, hour, text = _words(head, 5, usage)
    return no, _when(f"{day} {hour}"), text


def _suspend(head, _lines, person, reply, _event) -> None:
    _, no, reason = _words(head, 3, "暂停 编号 原因")
    out = work.suspend(no, by=person, reason=reason)
    reply(f"{no} 已暂停：{reason}", permit_no=out.permit_no)


def _resume(head, _lines, person, reply, _event) -> None:
    out = work.resume(_permit_no(head), by=person)
    reply(f"{out.permit_no} 已恢复作业", permit_no=out.permit_no)


def _fail_acceptance(head, _lines, person, reply, _event) -> None:
    no, deadline, demand = _dated(head, "验收不通过 编号 2026-11-24 18:00 整改要求")
    out = work.reject_acceptance(no, by=person, reason=demand, deadline=deadline)
    reply(f"{no} 验收不通过，已通知整改", permit_no=out.permit_no)


def _rectified(head, _lines, person, reply, _event) -> None:
    out = work.rectified(_permit_no(head), by=person)
    reply(f"{out.permit_no} 已报整改完成，等待重新验收", permit_no=out.permit_no)


def _extend(head, _lines, person, reply, _event) -> None:
    no, new_end, reason = _dated(head, "延期 编号 2026-11-24 20:00 理由")
    out = work.extend(no, by=person, new_end=new_end, reason=reason)
    reply(f"{no} 延期{out.detail}", permit_no=out.permit_no)


def _change(head, lines, person, reply, event) -> None:
    change_commands.ask(head, lines, person, reply, event, when=_when, permit_no=_permit_no)


def _refuse_change(head, lines, person, reply, event) -> None:
    change_commands.refuse(head, lines, person, reply, event, permit_no=_permit_no)


def _aim_photo(head, _lines, person, reply, event) -> None:
    """照片 编号 [种类] or 照片 点位: the next photo this person sends goes to that permit or isolation point."""
    words = head.split()
    if not NO.search(head) and len(words) == 2:
        _aim_point_photo(words[1], person, reply, event)
        return
    no = _permit_no(head)
    permit = Permit.get_or_none(Permit.no == no)
    if permit is None:
        raise WorkflowError(f"没有编号为 {no} 的作业票")
    kind = head.split(no, 1)[1].strip()[:32]
    if permit.state in ("closed", "rejected", "cancelled", "expired"):
        raise WorkflowError(f"作业票 {no} 已结束，不能再上传照片")
    from workflow import machine
    if person.id not in machine.involved(permit):
        raise WorkflowError(f"{person.name}与作业票 {no} 无关，不能上传照片")
    if Conversation.get_or_none((Conversation.person == person) & (Conversation.intent == "apply")):
        raise WorkflowError("您正在填写作业申请：请先填完或发送“取消”，再发送照片")
    Conversation.delete().where(Conversation.person == person).execute()
    Conversation.create(person=person, platform=event.platform, intent="photo", data={"permit": no, "kind": kind})
    reply(f"请发送 {no} 的{('“' + kind + '”') if kind else ''}照片", permit_no=no)


def _aim_point_photo(tag, person, reply, event) -> None:
    from isolation import points
    if points.open_point(tag) is None:
        raise WorkflowError(f"“{tag}”既不是作业票编号，也不是未解除的隔离点位。格式：照片 编号 [种类]，或 照片 点位")
    point, permit = points.photo_permit(tag, by=person)
    if Conversation.get_or_none((Conversation.person == person) & (Conversation.intent == "apply")):
        raise WorkflowError("您正在填写作业申请：请先填完或发送“取消”，再发送照片")
    Conversation.delete().where(Conversation.person == person).execute()
    Conversation.create(person=person, platform=event.platform, intent="photo", data={"point": point.tag})
    reply(f"请发送点位 {point.tag} 的隔离照片（锁具和挂牌须清晰可见）", permit_no=permit.no)


def _reissue_code(head, _lines, person, reply, _event) -> None:
    from workflow.site_code import reissue
    out = reissue(_permit_no(head), by=person)
    reply(f"{out.permit_no} {out.detail}{_site_code(out.permit_no)}", permit_no=out.permit_no)


def _withdraw(head, _lines, person, reply, _event) -> None:
    _, no, reason = _words(head, 3, "撤销 编号 理由")
    out = engine.cancel(no, by=person, reason=reason)
    reply(f"{no} 已撤销", permit_no=out.permit_no)


def _detector_command(word: str, act):
    """A chat command '<word> 编号 检测仪编号' that binds or releases a detector."""
    def handle(head, _lines, person, reply, _event) -> None:
        _, no, code = _words(head, 3, f"{word} 编号 检测仪编号")
        out = act(no, code, by=person)
        reply(f"{no} {out.detail}", permit_no=out.permit_no)
    return handle


COMMANDS = {"查询": _query, "气体检测": _gas, "驳回": _refuse, "退回": _refuse, "提交": _submit,
            "复制": _copy, "修改": _edit, "暂停": _suspend, "恢复": _resume,
            "验收不通过": _fail_acceptance, "整改完成": hazards.rectified_or_permit(_rectified), "延期": _extend,
            "撤销": _withdraw, "变更": _change, "不同意变更": _refuse_change, "重发二维码": _reissue_code,
            "照片": _aim_photo,
            "绑定检测仪": _detector_command("绑定检测仪", watch.bind),
            "解绑检测仪": _detector_command("解绑检测仪", watch.unbind),
            "导出": export_command, "采集人脸": _enrol_face, "自拍": _selfie_link, **lockout.COMMANDS, **EMERGENCY_COMMANDS,
            **KNOWLEDGE_COMMANDS, **TRAINING_COMMANDS, **TOOL_COMMANDS, **MEETING_COMMANDS, **hazards.COMMANDS}
