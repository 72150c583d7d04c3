"""Permit states, their Chinese labels, and which commands each state accepts."""

DRAFT = "draft"
IN_APPROVAL = "in_approval"
ISSUED = "issued"            # approved, waiting for the on-site start
IN_PROGRESS = "in_progress"
SUSPENDED = "suspended"
COMPLETED = "completed"      # work done, waiting for acceptance
RECTIFYING = "rectifying"    # acceptance refused, crew rectifying against a deadline
ACCEPTED = "accepted"        # accepted, waiting for close
CLOSED = "closed"
REJECTED = "rejected"
CANCELLED = "cancelled"
EXPIRED = "expired"

LABELS = {
    DRAFT: "草稿", IN_APPROVAL: "审批中", ISSUED: "未开工", IN_PROGRESS: "作业中",
    SUSPENDED: "已暂停", COMPLETED: "待验收", RECTIFYING: "整改中", ACCEPTED: "待关闭",
    CLOSED: "已关闭", REJECTED: "已驳回", CANCELLED: "已取消", EXPIRED: "已过期",
}

FINAL = frozenset({CLOSED, REJECTED, CANCELLED, EXPIRED})

# The state a permit is in while a step of each phase is the active one.
PHASE_STATE = {
    "prepare": IN_APPROVAL, "gas": IN_APPROVAL, "approve": IN_APPROVAL, "start": ISSUED,
    "work": IN_PROGRESS, "accept": COMPLETED, "close": ACCEPTED,
}
PHASES = tuple(PHASE_STATE)

# Which states each command may start from; anything else is an InvalidTransition.
COMMANDS = {
    "edit": {DRAFT},
    "submit": {DRAFT},
    "sign": {IN_APPROVAL, ISSUED, IN_PROGRESS, COMPLETED, ACCEPTED},
    "reject": {IN_APPROVAL},
    "return": {IN_APPROVAL},
    "cancel": {DRAFT, IN_APPROVAL, ISSUED, SUSPENDED},
    "record_gas": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED},
    "check_in": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, COMPLETED, RECTIFYING, ACCEPTED},
    "check_out": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, COMPLETED, RECTIFYING, ACCEPTED},
    "attach": {DRAFT, IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED, COMPLETED, RECTIFYING},
    "suspend": {IN_PROGRESS},
    "resume": {SUSPENDED},
    "reject_acceptance": {COMPLETED},
    "rectified": {RECTIFYING},
    "request_change": {ISSUED, IN_PROGRESS, SUSPENDED},
    "expire": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED},
    "remind": {IN_APPROVAL, ISSUED, IN_PROGRESS, COMPLETED, ACCEPTED},
    "escalate": {IN_APPROVAL, ISSUED, IN_PROGRESS, COMPLETED, ACCEPTED},
    "retest": {SUSPENDED},
    "bind_sensor": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED},
    "unbind_sensor": {IN_APPROVAL, ISSUED, IN_PROGRESS, SUSPENDED},
}

COMMAND_LABELS = {
    "edit": "修改草稿", "submit": "提交", "sign": "签字", "reject": "驳回", "return": "退回修改",
    "cancel": "取消", "record_gas": "气体检测", "check_in": "现场签到", "check_out": "离开现场", "attach": "上传照片",
    "suspend": "暂停作业", "resume": "恢复作业", "reject_acceptance": "验收不通过",
    "rectified": "整改完成", "request_change": "变更申请", "expire": "过期", "remind": "催办",
    "escalate": "超时上报", "retest": "提醒复测",
    "bind_sensor": "绑定检测仪", "unbind_sensor": "解绑检测仪",
}
